//! Python `json.dumps`-identical JSON text (filled by the keymakers work).
