import type { ConnectorDefinition } from '../src/api/connector.js';
import { assertConnector } from './assert/index.js';
import { blackholeConnector } from './blackhole/index.js';
import { consoleConnector } from './console/index.js';
import { fakeConnector } from './fake/index.js';
import { fileConnector } from './file/index.js';
import { filterConnector } from './filter/index.js';
import { maxcomputeConnector } from './maxcompute/index.js';
import { mysqlConnector } from './mysql/index.js';
import { ossConnector } from './oss/index.js';
import { postgresConnector } from './postgres/index.js';
import { selectConnector } from './select/index.js';

/** Every connector Tideway ships, in one explicit list (no registration by import side effects). */
export const connectors: ConnectorDefinition[] = [fakeConnector, consoleConnector, blackholeConnector, assertConnector, fileConnector, filterConnector, selectConnector, maxcomputeConnector, ossConnector, mysqlConnector, postgresConnector];
