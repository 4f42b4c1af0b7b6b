import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameDecoder, parseLogLine } from '../../src/cli/logs.js';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('frames split across chunks are reassembled and keep their stream', () => {
  const all = Buffer.concat([frame(1, 'out line\n'), frame(2, 'err line\n')]);
  const d = new FrameDecoder();
  const got = [...d.push(all.subarray(0, 5)), ...d.push(all.subarray(5, 20)), ...d.push(all.subarray(20))];
  assert.deepEqual(
    got.map((f) => [f.stream, f.payload.toString()]),
    [
      ['stdout', 'out line\n'],
      ['stderr', 'err line\n'],
    ],
  );
});

test('the details context is separated from the message', () => {
  const line = parseLogLine(
    'com.docker.swarm.node.id=esllzp6ulhjbq2vgojw97rby5,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello from x',
    false,
  );
  assert.equal(line.message, 'hello from x');
  assert.equal(line.context['com.docker.swarm.node.id'], 'esllzp6ulhjbq2vgojw97rby5');
  assert.equal(line.context['com.docker.swarm.task.id'], 't1');
  const ts = parseLogLine('2026-11-23T08:00:00.000000000Z com.docker.swarm.task.id=t1 hi', true);
  assert.equal(ts.timestamp, '2026-11-23T08:00:00.000000000Z');
  assert.equal(ts.message, 'hi');
});
