// The Node flags the service runs with: `npm start` (and so the image) passes them, and the bench
// and the real-server tests start their servers with them, so what they measure is what runs. A
// test holds package.json to this list.
//
// V8's defaults suit a process that may grow to gigabytes; sessiond's live heap is tens of MiB
// (about 1 KiB per stored session), and with the defaults its RSS floated 40-60 MiB above that
// with when the collector last ran (the 10,000-stored bench row read 136 to 170 MiB):
// - --max-semi-space-size=8: the young generation grows to two 8 MiB halves, not two 16 MiB: 16
//   MiB less RSS; collections come twice as often, each as short (what survives is what a
//   request holds). GET throughput was the same in the bench.
// - --initial-old-space-size=48: the first full collection comes once the old generation holds
//   48 MiB (start-up's garbage included), not at the far larger default first limit.
// - --heap-growing-percent=20: after each full collection the next comes when the old generation
//   has grown by 20% over what was live (V8 picks up to 300% by itself), so garbage promoted by
//   bursts of requests is collected before it costs much RSS. A full collection of a heap this
//   size is mostly concurrent and takes milliseconds.
// With all three the row read 125-131 MiB (100 stored: 110-117) and 300 SSE followers of a 20 MB
// session cost 39 MiB instead of 78-124, with list and GET throughput unchanged. The third flag
// made a raw replay of a 100 MB log in 64 KiB reads run at 0.7 of a bare file stream instead of
// 1.0 (full collections follow the bytes of the buffers going through); it reads 256 KiB at a
// time now (src/sessions/session-logs.ts), 0.9-1.0. Without the third flag the RSS row read 140-159.
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--initial-old-space-size=48', '--heap-growing-percent=20'];
