// The Node flags the service runs with: `npm start` (and so the image) passes them, and the bench
// starts its servers with them, so what it measures is what runs. A test holds package.json to
// this list.
//
// --max-semi-space-size=8: V8 grows the young generation to two 16 MiB halves under load, 32 MiB
// of RSS that a service answering small JSON documents never needs; with 8 MiB halves the
// collector runs twice as often, each run as short (what survives is what a request holds), and
// GET throughput was unchanged in the bench while the server's RSS fell by about 20 MiB.
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
