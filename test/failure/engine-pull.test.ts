import { engineFailureSuite } from './engine-suite.js';

engineFailureSuite('pull', 2001);
