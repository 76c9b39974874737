/*
 * streamdec's decoder, shared by its two sources: streamdec.c (open, decode, convert) and streamclip.c (event clips:
 * the ring of the last compressed packets and the cut into MP4).
 */
#ifndef STREAMDEC_H
#define STREAMDEC_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SD_API __attribute__((visibility("default")))

#define SD_QUEUE 4

typedef struct sd_decoder {
    AVFormatContext *format;
    AVCodecContext *codec;
    AVPacket *packet;
    AVFrame *decoded;             /* the decode thread's working picture */
    AVFrame *current;             /* the picture sd_grab handed to the caller (until its next sd_grab) */
    struct SwsContext *sws;
    int sws_src_w, sws_src_h, sws_src_fmt, sws_dst_w, sws_dst_h;
    int stream;
    int draining;
    int has_frame;
    atomic_int abort;
    atomic_int timed_out;         /* the interrupt callback ended a call because the deadline passed */
    _Atomic int64_t deadline;     /* av_gettime_relative() after which blocking I/O gives up; 0: none */
    int64_t read_timeout_us;      /* per packet read (network); 0: none */
    int fell_back;                /* transport auto: TCP was refused (461) and UDP was used */
    char transport[8];            /* the RTSP transport in use ("tcp", "udp"; empty for other protocols) */
    atomic_llong decoded_count;   /* pictures out of the decoder */
    long long converted_count;    /* pictures converted by sd_retrieve_bgr */
    long long copied_count;       /* pictures written as I420 by sd_retrieve_i420 */
    struct SwsContext *sws_i420;  /* to yuv420p when the picture is another format or size; NULL: plane copy */
    int i420_src_w, i420_src_h, i420_src_fmt, i420_dst_w, i420_dst_h;

    /* Decoded pictures waiting for sd_grab: a ring of preallocated frames, guarded by lock. */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    AVFrame *queue[SD_QUEUE];
    int64_t queue_pts[SD_QUEUE];
    int head, count;
    int stop;                     /* asks the decode thread to end (rewind, close) */
    int ended;                    /* the decode thread ended: end_rc is 0 (end of stream) or an AVERROR */
    int end_rc;
    char error[256];
    char thread_error[256];

    /* Event clips: the last clip_buffer_us of compressed video packets (references to the demuxer's buffers, no copies),
     * oldest first, always starting at a keyframe; filled by the decode thread, cut by sd_clip on any thread, all under
     * lock. clip_par and clip_tb are the stream's, copied at open (the format context belongs to the decode thread). */
    _Atomic int64_t clip_buffer_us; /* 0: off (the default) */
    AVPacket **clip_ring;
    int clip_cap, clip_head, clip_count;
    int64_t clip_bytes;
    int64_t clip_newest_us;       /* the latest packet time in the ring */
    AVCodecParameters *clip_par;
    AVRational clip_tb;
    int64_t clip_start;           /* the stream's start_time in clip_tb (0 when unknown), as sd_grab counts */
    char clip_error[256];
} sd_decoder;

/* Writes "what: reason" into error; returns code (AVERROR_UNKNOWN when code is not an error). */
int fail_to(char *error, size_t size, int code, const char *what);

/* streamclip.c: the decode thread's hook for each packet of the video stream, and emptying the ring (under lock). */
void clip_add(sd_decoder *d, const AVPacket *packet);
void clip_clear(sd_decoder *d);

#endif
