/**
 * A pickle reader for the metadata of `torch.save` checkpoints (protocols 2–5). It does not run any
 * code: it only recognises the few callables a state dict uses (OrderedDict, _rebuild_tensor_v2,
 * _rebuild_parameter) and turns everything else into inert placeholders.
 */

export interface StorageRef {
  kind: 'storage';
  key: string;
  /** torch storage class name, e.g. BFloat16Storage. */
  storageType: string;
}

export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

interface GlobalRef {
  kind: 'global';
  module: string;
  name: string;
}

interface Opaque {
  kind: 'opaque';
  what: string;
}

type Value = null | boolean | number | string | Value[] | Map<string, Value> | StorageRef | TensorRef | GlobalRef | Opaque | { kind: 'tuple'; items: Value[] };

const MARK = Symbol('mark');

function tuple(items: Value[]): Value {
  return { kind: 'tuple', items };
}

function items(v: Value, what: string): Value[] {
  if (v && typeof v === 'object' && 'kind' in v && v.kind === 'tuple') return v.items;
  if (Array.isArray(v)) return v;
  throw new Error(`pickle: expected a tuple for ${what}`);
}

function call(fn: Value, args: Value[]): Value {
  const g = fn as GlobalRef;
  const name = g && typeof g === 'object' && 'kind' in g && g.kind === 'global' ? `${g.module}.${g.name}` : 'unknown';
  switch (name) {
    case 'collections.OrderedDict':
      return new Map();
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor': {
      const [storage, offset, shape, stride] = args;
      return {
        kind: 'tensor',
        storage: storage as StorageRef,
        offset: offset as number,
        shape: items(shape as Value, 'size') as number[],
        stride: items(stride as Value, 'stride') as number[],
      };
    }
    case 'torch._utils._rebuild_parameter':
      return args[0] as Value;
    default:
      return { kind: 'opaque', what: name };
  }
}

/** Parses a pickle and returns its top-level value. Tensors come back as TensorRef. */
export function readPickle(data: Uint8Array): Value {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: (Value | typeof MARK)[] = [];
  const memo = new Map<number, Value>();
  const text = new TextDecoder();
  let at = 0;
  const pop = (): Value => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new Error('pickle: stack underflow');
    return v;
  };
  const popMark = (): Value[] => {
    const out: Value[] = [];
    for (;;) {
      const v = stack.pop();
      if (v === undefined) throw new Error('pickle: missing MARK');
      if (v === MARK) return out.reverse();
      out.push(v);
    }
  };
  const readLine = () => {
    const end = data.indexOf(0x0a, at);
    const s = text.decode(data.subarray(at, end));
    at = end + 1;
    return s;
  };
  const bytes = (n: number) => {
    const b = data.subarray(at, at + n);
    at += n;
    return b;
  };
  const top = () => stack[stack.length - 1] as Value;
  while (at < data.length) {
    const op = data[at++]!;
    switch (op) {
      case 0x80: at++; break; // PROTO
      case 0x95: at += 8; break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(data[at++]!); break; // BININT1
      case 0x4d: stack.push(view.getUint16(at, true)); at += 2; break; // BININT2
      case 0x4a: stack.push(view.getInt32(at, true)); at += 4; break; // BININT
      case 0x8a: { // LONG1
        const n = data[at++]!;
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]!);
        if (n > 0 && data[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        at += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: stack.push(view.getFloat64(at, false)); at += 8; break; // BINFLOAT
      case 0x58: { const n = view.getUint32(at, true); at += 4; stack.push(text.decode(bytes(n))); break; } // BINUNICODE
      case 0x8c: { const n = data[at++]!; stack.push(text.decode(bytes(n))); break; } // SHORT_BINUNICODE
      case 0x54: { const n = view.getUint32(at, true); at += 4; stack.push(text.decode(bytes(n))); break; } // BINSTRING
      case 0x55: { const n = data[at++]!; stack.push(text.decode(bytes(n))); break; } // SHORT_BINSTRING
      case 0x43: { const n = data[at++]!; at += n; stack.push({ kind: 'opaque', what: 'bytes' }); break; } // SHORT_BINBYTES
      case 0x42: { const n = view.getUint32(at, true); at += 4 + n; stack.push({ kind: 'opaque', what: 'bytes' }); break; } // BINBYTES
      case 0x63: { const module = readLine(); const name = readLine(); stack.push({ kind: 'global', module, name }); break; } // GLOBAL
      case 0x93: { const name = pop() as string; const module = pop() as string; stack.push({ kind: 'global', module, name }); break; } // STACK_GLOBAL
      case 0x71: memo.set(data[at++]!, top()); break; // BINPUT
      case 0x72: memo.set(view.getUint32(at, true), top()); at += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memo.get(data[at++]!) as Value); break; // BINGET
      case 0x6a: stack.push(memo.get(view.getUint32(at, true)) as Value); at += 4; break; // LONG_BINGET
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: stack.push(tuple([pop()])); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; }
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); (top() as Value[]).push(v); break; } // APPEND
      case 0x65: { const vs = popMark(); const list = top(); if (Array.isArray(list)) list.push(...vs); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); const d = top(); if (d instanceof Map) d.set(String(k), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const kv = popMark();
        const d = top();
        if (d instanceof Map) for (let i = 0; i + 1 < kv.length; i += 2) d.set(String(kv[i]), kv[i + 1]!);
        break;
      }
      case 0x51: { // BINPERSID: ('storage', StorageType, key, location, numel)
        const pid = items(pop(), 'persistent id');
        const type = pid[1] as GlobalRef;
        stack.push({ kind: 'storage', key: String(pid[2]), storageType: type?.name ?? 'unknown' });
        break;
      }
      case 0x52: { const args = items(pop(), 'arguments'); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = items(pop(), 'arguments'); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: pop(); break; // BUILD: state of an object we keep inert
      default:
        throw new Error(`pickle: unsupported opcode 0x${op.toString(16)} at byte ${at - 1}`);
    }
  }
  throw new Error('pickle: no STOP opcode (truncated?)');
}
