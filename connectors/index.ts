import type { ConnectorDefinition } from '../src/api/connector.js';
import { assertConnector } from './assert/index.js';
import { blackholeConnector } from './blackhole/index.js';
import { consoleConnector } from './console/index.js';
import { copyConnector } from './copy/index.js';
import { fakeConnector } from './fake/index.js';
import { fileConnector } from './file/index.js';
import { fieldMapperConnector } from './field_mapper/index.js';
import { filterConnector } from './filter/index.js';
import { filterRowKindConnector } from './filter_row_kind/index.js';
import { jsonPathConnector } from './json_path/index.js';
import { maxcomputeConnector } from './maxcompute/index.js';
import { mysqlConnector } from './mysql/index.js';
import { ossConnector } from './oss/index.js';
import { postgresConnector } from './postgres/index.js';
import { renameConnector } from './rename/index.js';
import { replaceConnector } from './replace/index.js';
import { selectConnector } from './select/index.js';
import { sqlConnector } from './sql/index.js';
import { splitConnector } from './split/index.js';

/** Every connector Tideway ships, in one explicit list (no registration by import side effects). */
export const connectors: ConnectorDefinition[] = [fakeConnector, consoleConnector, blackholeConnector, assertConnector, fileConnector, filterConnector, selectConnector, sqlConnector, fieldMapperConnector, renameConnector, copyConnector, replaceConnector, splitConnector, jsonPathConnector, filterRowKindConnector, maxcomputeConnector, ossConnector, mysqlConnector, postgresConnector];
