// Short forms of digests and IDs as Docker prints them.

/** 'sha256:0123456789abcdef…' → '0123456789ab' */
export function truncateDigest(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1).slice(0, 12);
}
