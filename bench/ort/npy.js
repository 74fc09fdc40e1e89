'use strict';
// Minimal .npy reader/writer (NumPy format v1.0 written; v1/v2/v3 read).
// Little-endian, C order only. Supported dtypes (ORT tensor type <-> descr):
//   float32 <f4, float64 <f8, int64 <i8, int32 <i4, int16 <i2, int8 |i1,
//   uint64 <u8, uint32 <u4, uint16 <u2, uint8 |u1, bool |b1.
const fs = require('fs');

const DTYPES = {
  float32: { descr: '<f4', size: 4, Arr: Float32Array },
  float64: { descr: '<f8', size: 8, Arr: Float64Array },
  int64: { descr: '<i8', size: 8, Arr: BigInt64Array },
  int32: { descr: '<i4', size: 4, Arr: Int32Array },
  int16: { descr: '<i2', size: 2, Arr: Int16Array },
  int8: { descr: '|i1', size: 1, Arr: Int8Array },
  uint64: { descr: '<u8', size: 8, Arr: BigUint64Array },
  uint32: { descr: '<u4', size: 4, Arr: Uint32Array },
  uint16: { descr: '<u2', size: 2, Arr: Uint16Array },
  uint8: { descr: '|u1', size: 1, Arr: Uint8Array },
  bool: { descr: '|b1', size: 1, Arr: Uint8Array },
};
const BY_DESCR = {};
for (const [type, d] of Object.entries(DTYPES)) {
  BY_DESCR[d.descr] = type;
  if (d.size === 1) BY_DESCR['<' + d.descr.slice(1)] = type; // '<i1' etc.
  else BY_DESCR['=' + d.descr.slice(1)] = type;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// Returns { type, shape: number[], data: TypedArray } (data owns its buffer).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) { hlen = buf.readUInt16LE(8); hstart = 10; }
  else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); hstart = 12; }
  else throw new Error(`${file}: unsupported .npy version ${major}.${buf[7]}`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw new Error(`${file}: bad .npy header: ${header}`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran-order arrays are not supported`);
  const type = BY_DESCR[descr[1]];
  if (!type) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const { size, Arr } = DTYPES[type];
  const off = hstart + hlen;
  if (buf.length - off < n * size) throw new Error(`${file}: truncated data (${buf.length - off} < ${n * size} bytes)`);
  const ab = new ArrayBuffer(n * size); // copy: aligned and owned
  new Uint8Array(ab).set(buf.subarray(off, off + n * size));
  return { type, shape, data: new Arr(ab) };
}

function writeNpy(file, type, shape, data) {
  const d = DTYPES[type];
  if (!d) throw new Error(`cannot write tensor type ${type} to .npy`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${d.descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let body;
  if (type === 'bool') body = Buffer.from(Array.from(data, (v) => (v ? 1 : 0)));
  else body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

module.exports = { readNpy, writeNpy, DTYPES };
