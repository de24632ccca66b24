import { testDialects } from '../store/testing/databases.js';
import { runRegistrySuite } from './registry.case.js';

for (const dialect of await testDialects()) runRegistrySuite(dialect);
