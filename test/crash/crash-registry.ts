/** Connectors for the crash test's worker threads: the writers are the ordinary file sink's. */
export { connectors } from '../../connectors/index.js';
