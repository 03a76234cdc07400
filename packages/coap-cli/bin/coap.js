#!/usr/bin/env node
// The `coap` command's launcher: it runs the build output (`npm run build` makes dist/coap.js from
// src/coap.ts). The launcher is in the repository so that npm links the bin even before the first build.
import('../dist/coap.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/coap.js')) {
    process.stderr.write('coap: @thimble/coap-cli is not built yet: run `npm run build`\n');
  } else {
    process.stderr.write(`coap: ${err?.stack ?? String(err)}\n`);
  }
  process.exitCode = 70;
});
