// JPEG camera frames of the bridge (bridge/PROTOCOL.md, "Camera frames"), through
// libjpeg-turbo's TurboJPEG API. The server compresses a rig's RGB8 frame; the client
// decodes it back into the caller's [h][w][3] buffer after checking that the JPEG header
// declares exactly the size the handshake gave, so a hostile or broken frame is refused
// before libjpeg-turbo allocates or writes anything.
#ifndef NFP_BRIDGE_JPEG_H
#define NFP_BRIDGE_JPEG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  void* enc;               // tjhandle for compression (made on first use)
  void* dec;               // tjhandle for decompression (made on first use)
  uint8_t* buf;            // compressed frame
  size_t cap;
} nfp_jpeg;

// Release the handles and the buffer; *j is then empty again ({0} is empty too).
void nfp_jpeg_free(nfp_jpeg* j);
// rgb[h][w][3] -> a baseline JPEG (4:2:0) at quality 1..100 in j's buffer (*out, valid
// until the next call). Returns its size, or 0 (error set).
size_t nfp_jpeg_encode(nfp_jpeg* j, const uint8_t* rgb, int h, int w, int quality,
                       const uint8_t** out);
// data[n], a JPEG whose header must declare exactly w x h -> rgb[h][w][3]. Truncated or
// corrupt data, another size or colour space, and libjpeg-turbo warnings are refused.
// 0, or -1 (error set; rgb may then be partly written).
int nfp_jpeg_decode(nfp_jpeg* j, uint8_t* rgb, int h, int w, const uint8_t* data, size_t n);

#endif
