#!/usr/bin/env node
// The aloft command. Runs the compiled CLI (built by `npm ci` through `prepare`).
import { main } from '../dist/cli/main.js';

await main();
