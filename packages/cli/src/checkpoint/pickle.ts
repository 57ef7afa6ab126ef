/**
 * A pickle reader for the metadata of `torch.save` checkpoints (protocols 2–5). It does not run any
 * code: it only recognises the few callables a state dict uses (OrderedDict, _rebuild_tensor_v2,
 * _rebuild_parameter) and turns everything else into inert placeholders.
 *
 * The input may be hostile: every read is bounds-checked, every opcode consumes input (so parsing
 * ends after at most `data.length` opcodes, with memory linear in the input), and every failure is a
 * BadCheckpointError naming the file, the byte and the problem.
 */
import { BadCheckpointError } from '../../../sdk/src/errors.js';

export interface StorageRef {
  kind: 'storage';
  key: string;
  /** torch storage class name, e.g. BFloat16Storage. */
  storageType: string;
}

/** A tensor as the pickle describes it; the values are checked for type here, for range by the reader. */
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

function isKind<K extends string>(v: Value, kind: K): v is Extract<Value, { kind: K }> {
  return !!v && typeof v === 'object' && 'kind' in v && v.kind === kind;
}

/** Parses a pickle and returns its top-level value. Tensors come back as TensorRef. */
export function readPickle(data: Uint8Array, file = 'data.pkl'): Value {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: (Value | typeof MARK)[] = [];
  const memo = new Map<number, Value>();
  const text = new TextDecoder();
  let at = 0;
  let opAt = 0;
  const fail = (problem: string): never => {
    throw new BadCheckpointError(file, `pickle: ${problem} (opcode at byte ${opAt})`);
  };
  /** Reserves n bytes of the input; fails if the pickle ends first. */
  const take = (n: number): number => {
    if (n < 0 || at + n > data.length) fail(`truncated: needs ${n} more bytes at byte ${at} of ${data.length}`);
    const start = at;
    at += n;
    return start;
  };
  const pop = (): Value => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail('stack underflow');
    return v as Value;
  };
  const top = (): Value => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow');
    return v as Value;
  };
  const popMark = (): Value[] => {
    const out: Value[] = [];
    for (;;) {
      const v = stack.pop();
      if (v === undefined) fail('missing MARK');
      if (v === MARK) return out.reverse();
      out.push(v as Value);
    }
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, at);
    if (end < 0) fail(`truncated: a text argument has no end of line (byte ${at} of ${data.length})`);
    const s = text.decode(data.subarray(at, end));
    at = end + 1;
    return s;
  };
  const str = (n: number): string => text.decode(data.subarray(take(n), at));
  const items = (v: Value, what: string): Value[] => {
    if (isKind(v, 'tuple')) return v.items;
    if (Array.isArray(v)) return v;
    return fail(`expected a tuple for ${what}`);
  };
  const recall = (key: number): Value => {
    const v = memo.get(key);
    if (v === undefined) fail(`memo ${key} was never stored`);
    return v as Value;
  };
  /** Dictionary keys of a state dict are strings; anything else gets an inert name (no deep String()). */
  const keyOf = (k: Value): string => (typeof k === 'string' || typeof k === 'number' ? String(k) : '<non-string key>');

  const ints = (v: Value, what: string): number[] => {
    const list = items(v, what);
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) fail(`tensor ${what} is not a tuple of integers`);
    return list as number[];
  };
  const call = (fn: Value, args: Value[]): Value => {
    const name = isKind(fn, 'global') ? `${fn.module}.${fn.name}` : 'unknown';
    switch (name) {
      case 'collections.OrderedDict':
        return new Map();
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor': {
        const [storage, offset, shape, stride] = args;
        if (!storage || !isKind(storage, 'storage')) return fail(`${name} without a storage`);
        if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) return fail(`${name} with a storage offset that is not an integer`);
        const size = ints(shape ?? null, 'size');
        const strides = ints(stride ?? null, 'stride');
        if (size.length !== strides.length) fail(`${name}: ${size.length} sizes but ${strides.length} strides`);
        return { kind: 'tensor', storage, offset, shape: size, stride: strides };
      }
      case 'torch._utils._rebuild_parameter':
        return args[0] ?? null;
      default:
        return { kind: 'opaque', what: name };
    }
  };

  while (at < data.length) {
    opAt = at;
    const op = data[at++]!;
    switch (op) {
      case 0x80: take(1); break; // PROTO
      case 0x95: take(8); break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(data[take(1)]!); break; // BININT1
      case 0x4d: stack.push(view.getUint16(take(2), true)); break; // BININT2
      case 0x4a: stack.push(view.getInt32(take(4), true)); break; // BININT
      case 0x8a: { // LONG1
        const n = data[take(1)]!;
        const start = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[start + i]!);
        if (n > 0 && data[start + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v)); // beyond 2^53 it is no longer a safe integer, and is rejected where used
        break;
      }
      case 0x47: stack.push(view.getFloat64(take(8), false)); break; // BINFLOAT
      case 0x58: case 0x54: stack.push(str(view.getUint32(take(4), true))); break; // BINUNICODE, BINSTRING
      case 0x8c: case 0x55: stack.push(str(data[take(1)]!)); break; // SHORT_BINUNICODE, SHORT_BINSTRING
      case 0x43: take(data[take(1)]!); stack.push({ kind: 'opaque', what: 'bytes' }); break; // SHORT_BINBYTES
      case 0x42: take(view.getUint32(take(4), true)); stack.push({ kind: 'opaque', what: 'bytes' }); break; // BINBYTES
      case 0x63: { const module = readLine(); const name = readLine(); stack.push({ kind: 'global', module, name }); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof name !== 'string' || typeof module !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push({ kind: 'global', module: module as string, name: name as string });
        break;
      }
      case 0x71: memo.set(data[take(1)]!, top()); break; // BINPUT
      case 0x72: memo.set(view.getUint32(take(4), true), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(recall(data[take(1)]!)); break; // BINGET
      case 0x6a: stack.push(recall(view.getUint32(take(4), true))); break; // LONG_BINGET
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: stack.push(tuple([pop()])); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; }
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); const list = top(); if (Array.isArray(list)) list.push(v); break; } // APPEND
      case 0x65: { const vs = popMark(); const list = top(); if (Array.isArray(list)) for (const v of vs) list.push(v); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); const d = top(); if (d instanceof Map) d.set(keyOf(k), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const kv = popMark();
        const d = top();
        if (d instanceof Map) for (let i = 0; i + 1 < kv.length; i += 2) d.set(keyOf(kv[i]!), kv[i + 1]!);
        break;
      }
      case 0x51: { // BINPERSID: ('storage', StorageType, key, location, numel)
        const pid = items(pop(), 'persistent id');
        const [tag, type, key] = pid;
        if (tag !== 'storage' || !type || !isKind(type, 'global') || (typeof key !== 'string' && typeof key !== 'number')) {
          fail('a persistent id that is not a torch storage');
        }
        stack.push({ kind: 'storage', key: String(key), storageType: (type as GlobalRef).name });
        break;
      }
      case 0x52: { const args = items(pop(), 'arguments'); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { const args = items(pop(), 'arguments'); const cls = pop(); stack.push(call(cls, args)); break; } // NEWOBJ
      case 0x62: pop(); break; // BUILD: state of an object we keep inert
      default:
        fail(`unsupported opcode 0x${op.toString(16)}`);
    }
  }
  return fail('truncated: no STOP opcode');
}
