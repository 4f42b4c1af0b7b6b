// Small filesystem helpers for the image store: durable atomic writes and hashed stream copies.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` so that a crash leaves either the old file or the new one, never half of it. */
export async function writeFileAtomic(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncPath(dirname(path));
}

export interface Hashed {
  digest: string;
  size: number;
}

/** A pass-through stream that counts and hashes what goes through it. */
export class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    cb();
  }
  result(): Hashed {
    return { digest: `sha256:${this.hash.digest('hex')}`, size: this.size };
  }
}

/** Copies a stream into `dest` (fsynced), returning the sha256 and size of what was written. */
export async function writeStreamHashed(source: Readable, dest: string): Promise<Hashed> {
  const hasher = new HashingStream();
  const out = createWriteStream(dest, { mode: 0o644 });
  await pipeline(source, hasher, out);
  await fsyncPath(dest);
  return hasher.result();
}

export type Compression = 'gzip' | 'zstd' | 'none';

/**
 * Copies `src` to `dest` uncompressed; returns the hash of the uncompressed bytes. zstd goes through
 * Debian's `zstd` (Node 20's zlib has no zstd), streamed from its stdout.
 */
export async function decompressHashed(src: string, dest: string, compression: Compression): Promise<Hashed> {
  if (compression === 'zstd') {
    const child = spawn('zstd', ['-d', '-c', '-q', src], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    const exited = new Promise<number>((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`zstd: ${e.message} (install Debian's zstd package)`)));
      child.on('close', (code) => resolve(code ?? 1));
    });
    const [hashed, code] = await Promise.all([writeStreamHashed(child.stdout, dest), exited]);
    if (code !== 0)
      throw new Error(`zstd: ${Buffer.concat(stderr).toString('utf8').trim() || `exit status ${code}`}`);
    return hashed;
  }
  const input = createReadStream(src);
  return writeStreamHashed(compression === 'gzip' ? input.pipe(createGunzip()) : input, dest);
}

/** The compression a file's magic bytes show (gzip 1f 8b, zstd 28 b5 2f fd), else none. */
export async function detectCompression(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && buf.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

export async function readJsonFile(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: string | Buffer): string {
  return `sha256:${sha256Hex(data)}`;
}

/** 'sha256:abc…' → 'abc…' */
export function digestHex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}
