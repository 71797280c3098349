import { engineFailureSuite } from './engine-suite.js';

engineFailureSuite('fake', 1);
