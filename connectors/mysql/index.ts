import { type ConnectorDefinition, defineSource } from '../../src/api/connector.js';
import { mysqlSourceOptions } from './options.js';
import { MysqlSource } from './source.js';

/** MySQL and MariaDB: a parallel, resumable source (keyset-paged range splits). */
export const mysqlConnector: ConnectorDefinition = {
  name: 'mysql',
  description: 'Reads MySQL and MariaDB tables or queries in parallel range splits, resumable mid-split.',
  source: defineSource({ options: mysqlSourceOptions, create: (options, context) => new MysqlSource(options, context) }),
  example: [
    'source:',
    '  - type: mysql',
    '    url: ${MYSQL_URL:-mysql://root@127.0.0.1:3306/test}',
    '    table: orders',
    '    split_size: 50000',
  ].join('\n'),
};

export { MysqlSource, type MysqlSplit, type MysqlEnumeratorState } from './source.js';
export { mysqlSourceOptions, type MysqlSourceOptions } from './options.js';
