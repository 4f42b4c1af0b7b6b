// The one way to load @peculiar/x509: its dependency tsyringe needs a Reflect polyfill loaded first, and
// the library needs Node's WebCrypto as its provider. Import `x509` from here, never the package directly.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
