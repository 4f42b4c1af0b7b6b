// Placement constraints (`node.labels.zone==east`): parsing with SwarmKit's messages, and matching a node.
import { isIP } from 'node:net';
import { invalidArgument } from '../../api/errors.js';
import type { Node } from '../../api/types.js';

export interface Constraint {
  /** As written (trimmed); compared case-insensitively except for label names. */
  key: string;
  op: '==' | '!=';
  value: string;
}

const OPERATORS = ['==', '!='] as const;
const KEY_PATTERN = /^[a-z_][a-z0-9\-_.]+$/i;
// No operators (<, >, ~ …) inside values, so future operators stay unambiguous.
const VALUE_PATTERN = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;

export class ConstraintParseError extends Error {}

/** Parses constraint expressions; throws ConstraintParseError with SwarmKit's wording. */
export function parseConstraints(exprs: readonly string[]): Constraint[] {
  return exprs.map(parseOne);
}

function parseOne(expr: string): Constraint {
  for (const op of OPERATORS) {
    const at = expr.indexOf(op);
    if (at < 0) continue;
    const key = expr.slice(0, at).trim();
    const value = expr.slice(at + op.length).trim();
    if (!KEY_PATTERN.test(key)) throw new ConstraintParseError(`key '${key}' is invalid`);
    if (!VALUE_PATTERN.test(value)) throw new ConstraintParseError(`value '${value}' is invalid`);
    return { key, op, value };
  }
  throw new ConstraintParseError(`constraint expected one operator from ${OPERATORS.join(', ')}`);
}

/** For the control API: the same parse, as an INVALID_ARGUMENT SwarmError. */
export function validateConstraints(exprs: readonly string[]): void {
  try {
    parseConstraints(exprs);
  } catch (err) {
    if (err instanceof ConstraintParseError) throw invalidArgument(err.message);
    throw err;
  }
}

const NODE_LABEL_PREFIX = 'node.labels.';
const ENGINE_LABEL_PREFIX = 'engine.labels.';

function hasPrefix(key: string, prefix: string): boolean {
  return key.length > prefix.length && key.slice(0, prefix.length).toLowerCase() === prefix;
}

/** The node attribute a key names; undefined when the key is unknown (and so never matches). */
function attribute(node: Node, key: string): string | undefined {
  if (hasPrefix(key, NODE_LABEL_PREFIX)) return node.Spec.Labels?.[key.slice(NODE_LABEL_PREFIX.length)] ?? '';
  if (hasPrefix(key, ENGINE_LABEL_PREFIX)) {
    return node.Description?.Engine.Labels?.[key.slice(ENGINE_LABEL_PREFIX.length)] ?? '';
  }
  switch (key.toLowerCase()) {
    case 'node.id':
      return node.ID;
    case 'node.hostname':
      return node.Description?.Hostname ?? '';
    case 'node.role':
      return node.Spec.Role;
    case 'node.platform.os':
      return node.Description?.Platform.OS ?? '';
    case 'node.platform.arch':
      return node.Description?.Platform.Architecture ?? '';
    default:
      return undefined;
  }
}

export function constraintMatches(c: Constraint, node: Node): boolean {
  if (c.key.toLowerCase() === 'node.ip') return ipMatches(c, node.Status.Addr ?? '');
  const attr = attribute(node, c.key);
  if (attr === undefined) return false;
  const equal = attr.toLowerCase() === c.value.toLowerCase();
  return c.op === '==' ? equal : !equal;
}

/** `node.ip` takes an address or a CIDR; a malformed one never matches. */
function ipMatches(c: Constraint, addr: string): boolean {
  const [net, bitsText] = c.value.split('/');
  if (!net || !isIP(net)) return false;
  const node = addr.replace(/:\d+$/, '');
  let inside: boolean;
  if (bitsText === undefined) {
    inside = node === net;
  } else {
    const bits = Number(bitsText);
    if (isIP(net) !== 4 || isIP(node) !== 4 || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    inside = (ipv4(net) & mask) >>> 0 === (ipv4(node) & mask) >>> 0;
  }
  return c.op === '==' ? inside : !inside;
}

function ipv4(s: string): number {
  return s.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/** Whether a node meets every constraint; unparseable constraints never match. */
export function nodeMatchesConstraints(node: Node, exprs: readonly string[]): boolean {
  if (exprs.length === 0) return true;
  let parsed: Constraint[];
  try {
    parsed = parseConstraints(exprs);
  } catch {
    return false;
  }
  return parsed.every((c) => constraintMatches(c, node));
}
