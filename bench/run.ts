// Benchmark entry: `npm run bench -- <name>` runs bench/<name>.ts's `main()`. Each benchmark prints
// its figures beside Docker's (research/anchors.md) and ends with one headline line.
const name = process.argv[2];
const known = ['api', 'cluster', 'executor', 'footprint', 'ha', 'network', 'services', 'stack'];
if (!name || !known.includes(name)) {
  console.error(`usage: npm run bench -- <${known.join('|')}>`);
  process.exit(2);
}
const mod = (await import(`./${name}.js`)) as { main: () => Promise<void> };
try {
  await mod.main();
} catch (e) {
  console.error(`bench ${name} failed: ${(e as Error).message}`);
  process.exit(1);
}
