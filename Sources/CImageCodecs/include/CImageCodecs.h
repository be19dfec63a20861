#ifndef C_IMAGE_CODECS_H
#define C_IMAGE_CODECS_H
// Placeholder; the input pipeline issue fills this in.
int cimagecodecs_placeholder(void);
#endif
