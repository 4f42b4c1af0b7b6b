// `--with-registry-auth`: the credentials the client's docker config holds for an image's registry,
// encoded as the X-Registry-Auth header the docker CLI sends with `service create` / `update`.
// Reads `auths` entries only: credential helpers (`credsStore`, `credHelpers`) are not run.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseReference } from '../executor/images/reference.js';

/** The key `docker login` writes for Docker Hub. */
const INDEX_SERVER = 'https://index.docker.io/v1/';
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

const authEntrySchema = z.object({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
  registrytoken: z.string().optional(),
});
const configSchema = z.object({ auths: z.record(z.string(), authEntrySchema).optional() });

/** Docker's ConvertToHostname: a config key ('https://host:port/v1/') → 'host:port'. */
function keyHost(key: string): string {
  return key.replace(/^https?:\/\//, '').split('/')[0] ?? '';
}

/** The registry host of an image reference ('docker.io' for Docker Hub), or undefined if it is invalid. */
function registryOf(image: string): string | undefined {
  try {
    return parseReference(image).domain;
  } catch {
    return undefined;
  }
}

/**
 * The encoded auth config for `image` from `$DOCKER_CONFIG/config.json` (default ~/.docker), or
 * undefined when the config has no credentials for its registry (then nothing is sent).
 */
export async function registryAuthFor(
  image: string,
  env: Record<string, string | undefined>,
): Promise<string | undefined> {
  const registry = registryOf(image);
  if (registry === undefined) return undefined;
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  let auths: z.infer<typeof configSchema>['auths'];
  try {
    auths = configSchema.parse(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))).auths;
  } catch {
    return undefined;
  }
  const isHub = registry === 'docker.io';
  const matches = (key: string) => (isHub ? DOCKER_HUB_HOSTS.has(keyHost(key)) : keyHost(key) === registry);
  const key = Object.keys(auths ?? {}).find(matches);
  const entry = key === undefined ? undefined : auths?.[key];
  if (key === undefined || entry === undefined) return undefined;
  let { username, password } = entry;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const config = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(entry.identitytoken ? { identitytoken: entry.identitytoken } : {}),
    ...(entry.registrytoken ? { registrytoken: entry.registrytoken } : {}),
  };
  if (Object.keys(config).length === 0) return undefined;
  const serveraddress = isHub ? INDEX_SERVER : key;
  return Buffer.from(JSON.stringify({ ...config, serveraddress })).toString('base64url');
}
