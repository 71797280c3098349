/** The programmatic API the CLI is a thin layer over: everything it runs goes through here. */
export { builtinConnectors, checkConnections, cleanJob, ConnectorRegistry, runJob } from '../index.js';
