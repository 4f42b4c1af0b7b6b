// Secret and config routes: /secrets, /secrets/create, /secrets/{id}, /secrets/{id}/update and the
// same under /configs; /secrets/{id}/rotate is ours (a new value rolled out, PayloadApi.rotate).
// Thin: parse, call this manager's control API (503 when this node is not one), answer in Docker's
// shapes (create 201 {"ID"}, delete 204).
import { parseVersionParam } from '../api/validate.js';
import type { ControlApis } from './cluster.js';
import { parseFilters, type Route, sendJSON, sendNoContent } from './router.js';

/** A config's data may be 1000 KiB (SwarmKit's MaxConfigSize): base64 in JSON needs more than the default 1 MiB. */
const PAYLOAD_MAX_BODY = 2 * 1024 * 1024;

export function payloadRoutes(control: () => ControlApis): Route[] {
  return (['secret', 'config'] as const).flatMap((kind): Route[] => {
    const api = () => (kind === 'secret' ? control().secrets : control().configs);
    const base = `/${kind}s`;
    return [
      {
        method: 'GET',
        path: base,
        handler: ({ res, query }) => sendJSON(res, 200, api().list(parseFilters(query))),
      },
      {
        method: 'POST',
        path: `${base}/create`,
        maxBody: PAYLOAD_MAX_BODY,
        handler: async ({ res, json }) => {
          const created = await api().create(await json());
          sendJSON(res, 201, { ID: created.ID });
        },
      },
      {
        method: 'GET',
        path: `${base}/:id`,
        handler: ({ res, params }) => sendJSON(res, 200, api().get(params.id ?? '')),
      },
      {
        method: 'POST',
        path: `${base}/:id/update`,
        handler: async ({ res, params, query, json }) => {
          const version = parseVersionParam(kind, query.get('version'));
          await api().update(params.id ?? '', version, await json());
          sendNoContent(res, 200);
        },
      },
      {
        // Beyond Docker: a new value under the same name, rolled out to the services using it.
        method: 'POST',
        path: `${base}/:id/rotate`,
        maxBody: PAYLOAD_MAX_BODY,
        handler: async ({ res, params, json }) => {
          sendJSON(res, 200, await api().rotate(params.id ?? '', await json()));
        },
      },
      {
        method: 'DELETE',
        path: `${base}/:id`,
        handler: async ({ res, params }) => {
          await api().remove(params.id ?? '');
          sendNoContent(res);
        },
      },
    ];
  });
}
