// Reads one compose file's YAML into plain data plus the line of every key, so that later checks
// can point at the line a problem was written on. Pure: text in, data out.
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type ScalarTag } from 'yaml';
import { ComposeError, formatKey, type KeyPath, type Locations } from './errors.js';

/**
 * Go's YAML decoder (which the docker CLI uses) reads `0440` as octal, and compose files rely on it
 * for file modes (`mode: 0440`); YAML 1.2's core schema would read 440. Listed before the core
 * schema's integer tags so it wins.
 */
const goOctal: ScalarTag = {
  identify: (v) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (s) => Number.parseInt(s, 8),
};

export interface ParsedFile {
  file: string;
  value: unknown;
  locations: Locations;
}

/** Parses `text` (named `file` in messages); a syntax error throws a ComposeError with its line. */
export function parseYamlFile(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    merge: true,
    uniqueKeys: true,
    customTags: (tags) => [goOctal, ...tags],
  });
  if (doc.errors.length > 0) {
    throw new ComposeError(
      doc.errors.map((e) => ({
        file,
        line: lineCounter.linePos(e.pos[0]).line,
        key: '',
        message: `YAML syntax error: ${e.message}`,
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // Only excessive alias expansion ("billion laughs") gets here: the syntax was checked above.
    throw new ComposeError([{ file, line: 1, key: '', message: `YAML error: ${(e as Error).message}` }]);
  }
  const locations: Locations = {};
  const lineOf = (node: { range?: [number, number, number] | null }): number | undefined =>
    node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  const mark = (path: KeyPath, line: number | undefined) => {
    if (line !== undefined) locations[formatKey(path)] = { file, line };
  };
  const walk = (node: Node | null | undefined, path: KeyPath): void => {
    if (!node || isAlias(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        if (key === '<<') continue; // merged-in keys are located at the mapping that merges them
        const child = [...path, key];
        mark(child, keyNode ? lineOf(keyNode) : undefined);
        walk(pair.value as Node | null, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const itemNode = item as Node | null;
        const line = itemNode ? lineOf(itemNode) : undefined;
        mark([...path, i], line);
        // A name in a list (`networks: [front]`, `depends_on: [db]`) is also located under its name,
        // the key it has once normalized to a mapping.
        if (isScalar(itemNode) && typeof itemNode.value === 'string') mark([...path, itemNode.value], line);
        walk(itemNode, [...path, i]);
      });
    }
  };
  walk(doc.contents as Node | null, []);
  mark([], 1);
  return { file, value, locations };
}
