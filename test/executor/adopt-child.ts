// Child process for adopt.test: plays a swarmd that starts containers, reports them on stdout,
// then idles until the test kills it with SIGKILL. Not a test file itself.
import { ContainerRuntime } from '../../src/executor/runc/runtime.js';
import { setLogSink } from '../../src/lib/log.js';
import { StaticImages } from './fixtures.js';

setLogSink(() => undefined);
const [stateDir = '', prefix = '', layer = ''] = process.argv.slice(2);
const runtime = new ContainerRuntime({
  stateDir,
  namePrefix: prefix,
  images: new StaticImages({ bb: { layers: [layer] } }),
});
await runtime.adopt();
const out: { id: string; runcId: string; name: string }[] = [];
for (let i = 0; i < 10; i++) {
  // Containers 0–2 exit with 11, 12, 13 once /tmp/go exists; the rest sleep.
  const args =
    i < 3 ? ['sh', '-c', `while [ ! -f /tmp/go ]; do sleep 0.1; done; exit ${11 + i}`] : ['sleep', '1000'];
  const c = await runtime.create({ name: `adopt-${i}`, spec: { Image: 'bb', Args: args } });
  await runtime.start(c.Id);
  out.push({ id: c.Id, runcId: c.RuncId, name: c.Name });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
setInterval(() => undefined, 1 << 30);
