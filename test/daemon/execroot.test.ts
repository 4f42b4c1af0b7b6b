// isOurTmpfs (pure): swarmd unmounts its exec root only when it mounted it itself (source
// "swarmd-exec"), never a tmpfs it found there (e.g. an exec root under /run).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOurTmpfs } from '../../src/daemon/execroot.js';

const mountinfo = [
  '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '25 22 0:21 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=1024k',
  '301 22 0:55 / /tmp/skt-a/exec rw,relatime shared:150 - tmpfs swarmd-exec rw,size=262144k,mode=700',
  '302 22 0:56 / /tmp/with\\040space/exec rw,relatime shared:151 - tmpfs swarmd-exec rw,mode=700',
  '303 22 0:57 / /tmp/skt-b/exec rw,relatime shared:152 - overlay swarmd-exec rw',
].join('\n');

test('isOurTmpfs: our tmpfs at exactly that path, octal escapes decoded; not another tmpfs, type or path', () => {
  assert.equal(isOurTmpfs(mountinfo, '/tmp/skt-a/exec'), true);
  assert.equal(isOurTmpfs(mountinfo, '/tmp/with space/exec'), true);
  assert.equal(isOurTmpfs(mountinfo, '/run'), false, 'a tmpfs swarmd did not mount');
  assert.equal(isOurTmpfs(mountinfo, '/tmp/skt-b/exec'), false, 'not a tmpfs');
  assert.equal(isOurTmpfs(mountinfo, '/tmp/skt-a'), false, 'only the mount point itself');
});
