// Entry for running the CLI from source (tests, development): node --import tsx src/cli/bin.ts
import { main } from './main.js';

await main();
