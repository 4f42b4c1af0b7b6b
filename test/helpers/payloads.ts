// Secrets and configs APIs for tests that build ControlApis by hand: the payload is "sealed" by a
// reversible marker instead of the data key (the real sealing is tested in test/lib and the
// integration tests).
import { PayloadApi, type PayloadSealer } from '../../src/manager/controlapi/payloads.js';
import type { ControlStore } from '../../src/manager/controlapi/store.js';

export const markerSealer: PayloadSealer = {
  seal: (data) => `sealed-for-test:${data}`,
  open: (sealed) => sealed.replace(/^sealed-for-test:/, ''),
};

export function payloadApis(store: ControlStore): { secrets: PayloadApi; configs: PayloadApi } {
  return {
    secrets: new PayloadApi('secret', store, markerSealer),
    configs: new PayloadApi('config', store, markerSealer),
  };
}
