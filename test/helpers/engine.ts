// An Engine API server for route tests: the system routes of a node outside any swarm with no
// containers (what the docker CLI asks before its command: /_ping, /version), beside the routes
// under test, on a unix socket.

import type { Route } from '../../src/engineapi/router.js';
import { EngineServer } from '../../src/engineapi/server.js';
import { systemRoutes } from '../../src/engineapi/system.js';

export async function startTestEngine(
  socket: string,
  stateDir: string,
  routes: Route[],
): Promise<EngineServer> {
  const server = new EngineServer({
    serverName: 'swarmd-test',
    routes: [
      ...systemRoutes({
        swarmInfo: async () => ({ LocalNodeState: 'inactive' }),
        swarmHeader: () => 'inactive',
        counts: async () => ({ containers: 0, running: 0, paused: 0, stopped: 0, images: 0 }),
        hostname: 'test',
        stateDir,
      }),
      ...routes,
    ],
  });
  await server.listen(socket);
  return server;
}
