import { engineFailureSuite } from './engine-suite.js';

engineFailureSuite('push', 1001);
