/**
 * Test fixtures for the engine's own tests and benchmarks: a tiny ustar writer
 * and a .cvd builder. Not imported by the engine itself.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/** A minimal ustar writer for building test containers. */
export function makeTar(files: { name: string; data: Uint8Array | string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const data = typeof f.data === 'string' ? Buffer.from(f.data, 'latin1') : Buffer.from(f.data);
    const h = Buffer.alloc(512);
    h.write(f.name, 0, 100, 'latin1');
    h.write('0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write('00000000000\0', 136, 'latin1');
    h.write('        ', 148, 'latin1');
    h.write('0', 156, 'latin1');
    h.write('ustar\0' + '00', 257, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function makeCvd(options: {
  files: { name: string; data: string }[];
  gzip?: boolean;
  md5?: string;
  buildTime?: string;
  stime?: string;
}): Buffer {
  const tar = makeTar(options.files);
  const body = options.gzip === false ? tar : gzipSync(tar);
  const md5 = options.md5 ?? createHash('md5').update(body).digest('hex');
  const header = `ClamAV-VDB:${options.buildTime ?? '09 Nov 2023 07-33 -0500'}:27088:${options.files.length}:90:${md5}:dsig:tester:${options.stime ?? '1699533208'}`;
  return Buffer.concat([Buffer.from(header.padEnd(512, ' '), 'latin1'), body]);
}

