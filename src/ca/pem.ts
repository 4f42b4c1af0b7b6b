// PEM encoding and decoding, in the canonical form Go's encoding/pem writes (64-column base64, "\n").
import { invalidArgument } from '../api/errors.js';

export interface PemBlock {
  label: string;
  der: Buffer;
}

const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
// Header lines such as "Proc-Type: 4,ENCRYPTED" or SwarmKit's "raft-dek: …" end in a colon-separated value.
const headerLine = /^[A-Za-z0-9-]+:.*$/;

/** Encodes one DER blob as a PEM block, with a trailing newline. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block in `text`, in order. Text between blocks is ignored, as Go's pem.Decode does. */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(blockPattern)) {
    const label = match[1] ?? '';
    const body = (match[2] ?? '')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !headerLine.test(line))
      .join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw invalidArgument(`malformed PEM block "${label}": bad base64`);
    }
    blocks.push({ label, der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

/** The DER of every CERTIFICATE block; refuses text with none or with blocks of another kind. */
export function decodeCertificateBundle(text: string): Buffer[] {
  const blocks = decodePemBlocks(text);
  if (blocks.length === 0) throw invalidArgument('no PEM certificate found');
  return blocks.map((block) => {
    if (block.label !== 'CERTIFICATE') {
      throw invalidArgument(`unexpected PEM block "${block.label}" in a certificate bundle`);
    }
    return block.der;
  });
}
