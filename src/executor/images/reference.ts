// Image references, Docker-style: parse, normalise ('busybox' → 'docker.io/library/busybox:latest')
// and shorten back to the familiar form users see ('docker.io/library/busybox:latest' → 'busybox:latest').
// Pure functions; no I/O.
import { invalidArgument } from '../../api/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

/** One path component of a repository name (distribution/reference's grammar). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A fully normalised reference: the repository is always `domain/path`. */
export interface ImageReference {
  /** Registry host[:port], e.g. 'docker.io', 'localhost:5000'. */
  domain: string;
  /** Repository path inside the registry, e.g. 'library/busybox'. */
  path: string;
  tag?: string;
  digest?: string;
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/**
 * Parses a user-supplied reference. A reference with neither tag nor digest gets no tag here;
 * `withDefaultTag` adds 'latest' where Docker does (pull, tag lookup).
 */
export function parseReference(input: string): ImageReference {
  if (input === '' || input.length > 512)
    throw invalidArgument(`invalid reference format: ${JSON.stringify(input)}`);
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidArgument(`invalid reference format: bad digest in ${input}`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalidArgument(`invalid reference format: bad tag in ${input}`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      if (!DOMAIN.test(first)) throw invalidArgument(`invalid reference format: bad registry in ${input}`);
      domain = first === LEGACY_DOMAIN ? DEFAULT_DOMAIN : first;
      path = rest.slice(slash + 1);
    }
  }
  if (path !== path.toLowerCase()) {
    throw invalidArgument(`invalid reference format: repository name must be lowercase: ${input}`);
  }
  if (path === '' || !path.split('/').every((c) => COMPONENT.test(c))) {
    throw invalidArgument(`invalid reference format: ${input}`);
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Docker's rule: a reference without tag or digest means ':latest'. */
export function withDefaultTag(ref: ImageReference): ImageReference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** 'docker.io/library/busybox' */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full normalised string: 'docker.io/library/busybox:latest', 'localhost:5000/x@sha256:…'. */
export function formatReference(ref: ImageReference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The familiar repository name users type: 'busybox', 'someone/app', 'localhost:5000/busybox'. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith(OFFICIAL_PREFIX) ? ref.path.slice(OFFICIAL_PREFIX.length) : ref.path;
}

/** The familiar string: 'busybox:latest', 'localhost:5000/busybox:1', 'busybox@sha256:…'. */
export function familiarString(ref: ImageReference): string {
  let s = familiarName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** Normalises a reference string to its canonical tagged form (for the tag map). */
export function normaliseTagged(input: string): string {
  return formatReference(withDefaultTag(parseReference(input)));
}

/** Familiar form of a canonical reference string (canonical strings always parse). */
export function familiarize(canonical: string): string {
  return familiarString(parseReference(canonical));
}
