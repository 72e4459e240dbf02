// Warm-start case for bench/warm.py: node with 20 modules loaded and an object of 500000 keys. Protocol
// (bench/tlaunch.c): for each line on stdin it prints "T <CLOCK_MONOTONIC ns>" and "SUM <hex>", a digest of a
// sample of that state. stdin is read synchronously: the answer does not wait on the event loop.
'use strict';
const names = ['fs', 'path', 'os', 'util', 'events', 'stream', 'crypto', 'zlib', 'http', 'https', 'net', 'url',
  'querystring', 'string_decoder', 'buffer', 'assert', 'readline', 'dns', 'vm', 'worker_threads'];
const mods = Object.fromEntries(names.map((n) => [n, require(n)]));
const fs = mods.fs;
const obj = {};
for (let i = 0; i < 500000; i++) obj['k' + i] = i * 3;
const keys = Object.keys(obj).length;

function answer() {
  let s = keys + Object.keys(mods).length;
  for (let i = 0; i < 500000; i += 997) s = (s * 31 + obj['k' + i]) % 1000000007;
  return mods.crypto.createHash('sha1').update(String(s)).digest('hex').slice(0, 16);
}

const buf = Buffer.alloc(256);
let pending = '';
for (;;) {
  let n;
  try {
    n = fs.readSync(0, buf, 0, buf.length, null);
  } catch (e) {
    if (e.code !== 'EAGAIN') throw e;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    continue;
  }
  if (n === 0) break;
  pending += buf.toString('utf8', 0, n);
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    pending = pending.slice(nl + 1);
    const t = process.hrtime.bigint();
    fs.writeSync(1, `T ${t}\nSUM ${answer()}\n`);
  }
}
