// Pre-flight: containers need the cgroup filesystems. A swarmd started where they are hidden (e.g.
// under `ip netns exec`, which remounts /sys) would fail every task later; it refuses to start instead,
// with one line saying why and what to do. Pure over the text of /proc/self/mountinfo.

/** The problem with this mount table for runc, or undefined when cgroups (v1 or v2) are usable. */
export function cgroupProblem(mountinfo: string): string | undefined {
  const types = new Set<string>();
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(' ');
    const mountPoint = fields[4] ?? '';
    const fsType = line.slice(sep + 3).split(' ')[0] ?? '';
    if (mountPoint.startsWith('/sys/fs/cgroup')) {
      types.add(fsType);
      points.push(mountPoint);
    }
  }
  if (
    types.has('cgroup2') ||
    (types.has('cgroup') && points.some((p) => /\/(memory|cpu[,a-z]*|pids)$/.test(p)))
  )
    return undefined;
  return 'no usable cgroup mount under /sys/fs/cgroup: containers cannot run here (inside a network namespace, start swarmd with `nsenter --net=/run/netns/NAME`, not `ip netns exec`, which remounts /sys)';
}
