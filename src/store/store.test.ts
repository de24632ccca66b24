import { runStoreSuite } from './store.case.js';
import { testDialects } from './testing/databases.js';

for (const dialect of await testDialects()) runStoreSuite(dialect);
