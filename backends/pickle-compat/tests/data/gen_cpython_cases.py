"""Generates tests/data/cpython_cases.json: random built-in values pickled by CPython.

Usage: python3 gen_cpython_cases.py SEED COUNT > cpython_cases.json (checked in: seed 7, 120
cases, CPython 3.11), and with a third argument `read` the reader's cases (sets and frozensets
too, every protocol 0 to 5): python3 gen_cpython_cases.py 11 60 read > cpython_read_cases.json. Dict keys are unique and multi-character strings are built fresh, so the
only shared objects are the ones CPython always shares (the '' / one-latin-1-char str and b'' /
one-byte bytes singletons), which is what a Rust writer can reproduce.
"""
import pickle, random, json, sys
random.seed(int(sys.argv[1]))
cnt=[0]
def key():
    cnt[0]+=1
    return random.choice(['k%d'%cnt[0], 'ключ%d'%cnt[0]])
READ = len(sys.argv) > 3
def val(d):
    r=random.random()
    if READ and r < 0.08:
        items = {random.randrange(-300, 300) for _ in range(random.randrange(0, 5))}
        return random.choice([set, frozenset])(items)
    if d>3 or r<0.5:
        c=random.randrange(9)
        if c==0: return None
        if c==1: return random.choice([True,False])
        if c==2: return random.choice([0,1,255,256,65535,65536,-1,-256,2**31-1,2**31,-2**31,-2**31-1,2**63-1,-2**63,2**64-1,2**64,2**100,-2**100, random.randrange(-2**70,2**70)])
        if c==3: return random.choice([0.0,-0.0,1e16,1e-5,5e-324,1.5,float('inf'),-float('inf'),random.random()])
        if c==4: return ''.join(random.choice('ab☃é😀\n') for _ in range(random.randrange(2,6)))
        if c==5: return random.choice(['', 'a', 'é', 'ÿ', chr(0x2603)]) if random.random()<0.8 else chr(0x2603)
        if c==6: return bytes(random.randrange(256) for _ in range(random.randrange(0,4)))
        return random.randrange(-1000,1000)
    c=random.randrange(3)
    n=random.choice([0,1,2,3,4,5])
    if c==0: return [val(d+1) for _ in range(n)]
    if c==1: return tuple(val(d+1) for _ in range(n))
    return {key(): val(d+1) for _ in range(n)}
def tag(x):
    if x is None or isinstance(x,bool): return {'t':'c','v':x}
    if isinstance(x,int): return {'t':'i','v':str(x)}
    if isinstance(x,float): return {'t':'f','v':x.hex()}
    if isinstance(x,str): return {'t':'s','v':x}
    if isinstance(x,bytes): return {'t':'b','v':x.hex()}
    if isinstance(x,(set,frozenset)): return {'t':'l','v':[tag(i) for i in x]}
    if isinstance(x,list): return {'t':'l','v':[tag(i) for i in x]}
    if isinstance(x,tuple): return {'t':'u','v':[tag(i) for i in x]}
    return {'t':'d','v':[[k,tag(v)] for k,v in x.items()]}
out=[]
for _ in range(int(sys.argv[2])):
    v=val(0)
    if READ:
        out.append({'v':tag(v), **{'p%d'%p: pickle.dumps(v,p).hex() for p in range(6)}})
    else:
        out.append({'v':tag(v),'p':pickle.dumps(v,2).hex(),'p3':pickle.dumps(v,3).hex()})
print(json.dumps(out))
