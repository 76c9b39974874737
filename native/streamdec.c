/*
 * streamdec: a thin in-process video decoder over the system's FFmpeg libraries (libavformat, libavcodec,
 * libswscale), for Stream's ingest of files and network cameras (rtsp, rtsps, http, https). OpenCvSharp's bundled FFmpeg is built without SIMD, and an ffmpeg child
 * process pays a copy through a pipe per frame; this decodes in the calling process with the system FFmpeg's
 * optimised decoders and writes each picture the caller keeps into the caller's buffer: as I420 (the decoder's own
 * planes copied, or converted by swscale when the stream has another format or the caller another size), or as BGR24.
 *
 * Decoding runs ahead on a thread of the decoder's own (demux, send, receive), which queues up to SD_QUEUE decoded
 * pictures (references, no copies); the caller's thread takes them with sd_grab and converts the ones it keeps while
 * the next ones decode, so conversion overlaps decoding instead of stalling it.
 *
 * Network I/O never blocks for long: every blocking call of libavformat polls the interrupt callback, which ends it
 * when sd_abort was called (watchdog, shutdown) or when the current deadline passed (the open timeout while opening,
 * the read timeout while waiting for a packet). Frames the caller does not keep are grabbed and never converted
 * (sd_grab without sd_retrieve_bgr); the decoder can also skip non-reference or non-key frames (skip_frame).
 *
 * Built by scripts/setup.sh (gcc + pkg-config) into native/build/libstreamdec.so; Stream falls back to the ffmpeg
 * pipe when it is absent. Life cycle: sd_alloc, sd_open_input (blocking; sd_abort from another thread ends it),
 * sd_grab / sd_retrieve_bgr, sd_close. One decoder is used by one thread; only sd_abort, and the clip calls
 * (sd_clip_buffer, sd_clip_stats, sd_clip: one sd_clip at a time), may be called from another.
 *
 * Event clips (version 4): with sd_clip_buffer on, the decode thread keeps references to the last buffer_us of the
 * video stream's compressed packets (whole GOPs, so the ring always starts at a keyframe); sd_clip remuxes a window of
 * them into an MP4 (stream copy, +faststart) without decoding anything. A rewind empties the ring.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/time.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "streamdec.h"

static atomic_int live_decoders;

static int interrupted(void *opaque) {
    sd_decoder *d = opaque;
    if (atomic_load(&d->abort)) return 1;
    int64_t deadline = atomic_load(&d->deadline);
    if (deadline > 0 && av_gettime_relative() > deadline) {
        atomic_store(&d->timed_out, 1);
        return 1;
    }
    return 0;
}

static void set_deadline(sd_decoder *d, int64_t timeout_us) {
    atomic_store(&d->timed_out, 0);
    atomic_store(&d->deadline, timeout_us > 0 ? av_gettime_relative() + timeout_us : 0);
}

/* A failed call that the interrupt callback ended: AVERROR_EXIT after sd_abort, AVERROR(ETIMEDOUT) after the deadline
 * (libavformat does not always pass AVERROR_EXIT up: the RTSP client reports a reply it never got as invalid data). */
static int timeout_or(sd_decoder *d, int rc) {
    if (rc >= 0 || rc == AVERROR_EOF) return rc;
    if (atomic_load(&d->abort)) return AVERROR_EXIT;
    return atomic_load(&d->timed_out) ? AVERROR(ETIMEDOUT) : rc;
}

int fail_to(char *error, size_t size, int code, const char *what) {
    char reason[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(code, reason, sizeof reason);
    snprintf(error, size, "%s: %s", what, reason);
    return code < 0 ? code : AVERROR_UNKNOWN;
}

/* An error on the caller's thread. */
static int fail(sd_decoder *d, int code, const char *what) { return fail_to(d->error, sizeof d->error, code, what); }

/* An error on the decode thread: the caller sees it (copied into error) when sd_grab reaches it. */
static int fail_decoding(sd_decoder *d, int code, const char *what) { return fail_to(d->thread_error, sizeof d->thread_error, code, what); }

static int start_thread(sd_decoder *d);

SD_API int sd_version(void) { return 4; }

/* Decoders allocated and not yet closed in this process (diagnostics, tests). */
SD_API int sd_live_count(void) { return atomic_load(&live_decoders); }

SD_API const char *sd_error(const sd_decoder *d) { return d ? d->error : "no decoder"; }

static void stop_thread(sd_decoder *d) {
    if (!d->thread_started) return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_broadcast(&d->changed);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    d->thread_started = 0;
    for (; d->count > 0; d->count--, d->head = (d->head + 1) % SD_QUEUE) av_frame_unref(d->queue[d->head]);
    d->head = 0;
    d->stop = 0;
    d->ended = 0;
}

SD_API void sd_abort(sd_decoder *d) {
    if (!d) return;
    atomic_store(&d->abort, 1);
    if (d->thread_started) {
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
    }
}

SD_API void sd_close(sd_decoder *d) {
    if (!d) return;
    stop_thread(d);
    pthread_cond_destroy(&d->changed);
    pthread_mutex_destroy(&d->lock);
    for (int i = 0; i < SD_QUEUE; i++) av_frame_free(&d->queue[i]);
    clip_clear(d);
    for (int i = 0; i < d->clip_cap; i++) av_packet_free(&d->clip_ring[i]);
    av_freep(&d->clip_ring);
    avcodec_parameters_free(&d->clip_par);
    sws_freeContext(d->sws);
    sws_freeContext(d->sws_i420);
    av_frame_free(&d->current);
    av_frame_free(&d->decoded);
    av_packet_free(&d->packet);
    avcodec_free_context(&d->codec);
    avformat_close_input(&d->format);
    av_free(d);
    atomic_fetch_sub(&live_decoders, 1);
}

/* A decoder that opens nothing yet: the caller keeps it so that sd_abort can end a blocking sd_open_input. */
SD_API sd_decoder *sd_alloc(void) {
    sd_decoder *d = av_mallocz(sizeof *d);
    if (!d) return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->changed, NULL);
    atomic_fetch_add(&live_decoders, 1);
    return d;
}

static int is_scheme(const char *url, const char *scheme) {
    size_t n = strlen(scheme);
    return strncmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

/* avformat_open_input with the network options of the URL's protocol (FFmpeg 5.1 names; 4.x where they differ). */
static int open_format(sd_decoder *d, const char *url, const char *transport, int64_t io_timeout_us) {
    d->format = avformat_alloc_context();
    if (!d->format) return AVERROR(ENOMEM);
    d->format->interrupt_callback.callback = interrupted;
    d->format->interrupt_callback.opaque = d;
    AVDictionary *options = NULL;
    int rtsp = is_scheme(url, "rtsp") || is_scheme(url, "rtsps");
    if (rtsp && transport && *transport) av_dict_set(&options, "rtsp_transport", transport, 0);
    if (io_timeout_us > 0 && (rtsp || is_scheme(url, "http") || is_scheme(url, "https"))) {
        /* rtsp: socket I/O timeout ("stimeout" before FFmpeg 5); http: tcp's socket timeout, and the generic I/O one. */
#if LIBAVFORMAT_VERSION_MAJOR >= 59
        av_dict_set_int(&options, "timeout", io_timeout_us, 0);
#else
        av_dict_set_int(&options, rtsp ? "stimeout" : "timeout", io_timeout_us, 0);
#endif
        if (!rtsp) av_dict_set_int(&options, "rw_timeout", io_timeout_us, 0);
    }
    /* A live stream's frame rate from a couple of frames instead of 20: the open (and every reconnect) gets to its
     * first frame about 0.4 s sooner; the rate is only reported, frames are timed by their arrival. */
    if (rtsp || is_scheme(url, "http") || is_scheme(url, "https")) av_dict_set(&options, "fpsprobesize", "2", 0);
    int rc = avformat_open_input(&d->format, url, NULL, &options);
    av_dict_free(&options);
    return rc;
}

/* Opens the first video stream of `url` with `threads` decoder threads (0: FFmpeg's choice). transport (RTSP only):
 * "tcp", "udp", or "auto" (TCP, then UDP when the camera answers 461 Unsupported transport); NULL or "": FFmpeg's
 * default. open_timeout_us bounds the whole open (connect, describe, setup, stream info); read_timeout_us each packet
 * read after it (0: no limit, for files). skip: 0 decodes every frame, 1 skips non-reference frames, 2 decodes
 * keyframes only. Returns 0, or a negative AVERROR with sd_error saying what (AVERROR(ETIMEDOUT) when a timeout
 * passed, AVERROR_EXIT when sd_abort was called). The caller closes the decoder either way. */
SD_API int sd_open_input(sd_decoder *d, const char *url, int threads, const char *transport, int64_t open_timeout_us,
                         int64_t read_timeout_us, int skip) {
    if (!d) return AVERROR(EINVAL);
    av_log_set_level(AV_LOG_QUIET);
    d->read_timeout_us = read_timeout_us;
    int rtsp = is_scheme(url, "rtsp") || is_scheme(url, "rtsps");
    int automatic = rtsp && transport && strcmp(transport, "auto") == 0;
    const char *first = automatic ? "tcp" : transport;
    if (rtsp) snprintf(d->transport, sizeof d->transport, "%s", first && *first ? first : "");
    set_deadline(d, open_timeout_us);
    int64_t io_timeout = read_timeout_us > 0 ? read_timeout_us : open_timeout_us;
    int rc = open_format(d, url, first, io_timeout);
    if (rc == AVERROR(EPROTONOSUPPORT) && automatic && !atomic_load(&d->abort)) {
        /* 461 Unsupported transport: the camera serves RTP over UDP only (VLC's server, some NVRs). */
        avformat_close_input(&d->format);
        d->fell_back = 1;
        snprintf(d->transport, sizeof d->transport, "udp");
        rc = open_format(d, url, "udp", io_timeout);
        /* A server may still be tearing down the media the refused attempt prepared (GStreamer answers 5xx then):
         * a few more tries, 250 ms apart, within the open deadline. */
        for (int retry = 0; retry < 4 && rc == AVERROR_HTTP_SERVER_ERROR; retry++) {
            avformat_close_input(&d->format);
            for (int i = 0; i < 25 && !interrupted(d); i++) av_usleep(10000);
            if (interrupted(d)) break;
            rc = open_format(d, url, "udp", io_timeout);
        }
    }
    if (rc < 0) return fail(d, timeout_or(d, rc), "cannot open");
    rc = avformat_find_stream_info(d->format, NULL);
    if (rc < 0) return fail(d, timeout_or(d, rc), "cannot read stream info");
#if LIBAVFORMAT_VERSION_MAJOR >= 59
    const AVCodec *codec = NULL;
#else
    AVCodec *codec = NULL; /* FFmpeg 4 (e.g. Ubuntu 22.04 under the GPU image) */
#endif
    rc = av_find_best_stream(d->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (rc < 0) return fail(d, rc, "no video stream");
    d->stream = rc;
    for (unsigned i = 0; i < d->format->nb_streams; i++) {
        if ((int)i != d->stream) d->format->streams[i]->discard = AVDISCARD_ALL;
    }
    d->codec = avcodec_alloc_context3(codec);
    if (!d->codec) return fail(d, AVERROR(ENOMEM), "out of memory");
    AVStream *video = d->format->streams[d->stream];
    d->clip_par = avcodec_parameters_alloc();
    if (!d->clip_par || avcodec_parameters_copy(d->clip_par, video->codecpar) < 0) return fail(d, AVERROR(ENOMEM), "out of memory");
    d->clip_tb = video->time_base;
    d->clip_start = video->start_time != AV_NOPTS_VALUE ? video->start_time : 0;
    rc = avcodec_parameters_to_context(d->codec, d->format->streams[d->stream]->codecpar);
    if (rc < 0) return fail(d, rc, "bad codec parameters");
    d->codec->thread_count = threads > 0 ? threads : 0;
    d->codec->pkt_timebase = d->format->streams[d->stream]->time_base;
    d->codec->skip_frame = skip >= 2 ? AVDISCARD_NONKEY : skip == 1 ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    rc = avcodec_open2(d->codec, codec, NULL);
    if (rc < 0) return fail(d, rc, "cannot open the decoder");
    d->packet = av_packet_alloc();
    d->decoded = av_frame_alloc();
    d->current = av_frame_alloc();
    int frames = d->packet && d->decoded && d->current;
    for (int i = 0; i < SD_QUEUE; i++) frames = frames && (d->queue[i] = av_frame_alloc());
    if (!frames) return fail(d, AVERROR(ENOMEM), "out of memory");
    if (d->codec->width <= 0 || d->codec->height <= 0) return fail(d, AVERROR_INVALIDDATA, "no picture size");
    set_deadline(d, 0);
    return start_thread(d);
}

/* Files (version 1's entry point): no timeouts, every frame. */
SD_API int sd_open(const char *url, int threads, sd_decoder **out) {
    *out = sd_alloc();
    return *out ? sd_open_input(*out, url, threads, NULL, 0, 0, 0) : AVERROR(ENOMEM);
}

/* The RTSP transport in use ("tcp", "udp"; "" for other protocols), and whether auto fell back from TCP to UDP. */
SD_API const char *sd_transport(const sd_decoder *d) { return d->transport; }

SD_API int sd_fell_back(const sd_decoder *d) { return d->fell_back; }

/* Pictures the decoder produced and pictures written out so far (sd_retrieve_bgr and sd_retrieve_i420 together). */
SD_API void sd_stats(const sd_decoder *d, int64_t *decoded, int64_t *converted) {
    *decoded = atomic_load(&((sd_decoder *)d)->decoded_count);
    *converted = d->converted_count + d->copied_count;
}

SD_API int sd_width(const sd_decoder *d) { return d->codec->width; }

SD_API int sd_height(const sd_decoder *d) { return d->codec->height; }

/* Nominal frame rate (0 when unknown). */
SD_API double sd_fps(const sd_decoder *d) {
    AVStream *s = d->format->streams[d->stream];
    AVRational r = s->avg_frame_rate.num > 0 ? s->avg_frame_rate : s->r_frame_rate;
    return r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
}

/* Frames the container states (0 when unknown). */
SD_API int64_t sd_frame_count(const sd_decoder *d) { return d->format->streams[d->stream]->nb_frames; }

/* The decode thread's step: the next picture into d->decoded. Returns 1 with *pts_us its media time in microseconds
 * from the stream start (-1 when unknown), 0 at the end of the stream, or a negative AVERROR (d->error says what). */
static int decode_next(sd_decoder *d, int64_t *pts_us) {
    for (;;) {
        if (atomic_load(&d->abort)) return fail_decoding(d, AVERROR_EXIT, "aborted");
        int rc = avcodec_receive_frame(d->codec, d->decoded);
        if (rc == 0) {
            atomic_fetch_add(&d->decoded_count, 1);
            AVStream *s = d->format->streams[d->stream];
            int64_t ts = d->decoded->best_effort_timestamp;
            if (ts == AV_NOPTS_VALUE) {
                *pts_us = -1;
            } else {
                int64_t start = s->start_time != AV_NOPTS_VALUE ? s->start_time : 0;
                *pts_us = av_rescale_q(ts - start, s->time_base, AV_TIME_BASE_Q);
            }
            return 1;
        }
        if (rc == AVERROR_EOF) return 0;
        if (rc != AVERROR(EAGAIN)) return fail_decoding(d, rc, "decoding failed");
        if (d->draining) return 0;
        set_deadline(d, d->read_timeout_us);
        rc = timeout_or(d, av_read_frame(d->format, d->packet));
        if (rc == AVERROR_EOF) {
            d->draining = 1;
            rc = avcodec_send_packet(d->codec, NULL);
            if (rc < 0 && rc != AVERROR_EOF) return fail_decoding(d, rc, "decoding failed");
            continue;
        }
        if (rc < 0) return fail_decoding(d, rc, "reading failed");
        if (d->packet->stream_index == d->stream) {
            if (atomic_load(&d->clip_buffer_us) > 0) clip_add(d, d->packet);
            rc = avcodec_send_packet(d->codec, d->packet);
            av_packet_unref(d->packet);
            /* A damaged packet is skipped (as ffmpeg does); the decoder carries on with the next one. */
            if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA) return fail_decoding(d, rc, "decoding failed");
        } else {
            av_packet_unref(d->packet);
        }
    }
}

static void *decode_thread(void *opaque) {
    sd_decoder *d = opaque;
    for (;;) {
        int64_t pts = -1;
        int rc = decode_next(d, &pts);
        pthread_mutex_lock(&d->lock);
        if (rc != 1) {
            d->ended = 1;
            d->end_rc = rc;
            pthread_cond_broadcast(&d->changed);
            pthread_mutex_unlock(&d->lock);
            return NULL;
        }
        while (d->count == SD_QUEUE && !d->stop && !atomic_load(&d->abort)) pthread_cond_wait(&d->changed, &d->lock);
        if (d->stop || atomic_load(&d->abort)) {
            av_frame_unref(d->decoded);
            pthread_mutex_unlock(&d->lock);
            return NULL;
        }
        int tail = (d->head + d->count) % SD_QUEUE;
        av_frame_move_ref(d->queue[tail], d->decoded);
        d->queue_pts[tail] = pts;
        d->count++;
        pthread_cond_broadcast(&d->changed);
        pthread_mutex_unlock(&d->lock);
    }
}

static int start_thread(sd_decoder *d) {
    int rc = pthread_create(&d->thread, NULL, decode_thread, d);
    if (rc != 0) return fail(d, AVERROR(rc), "cannot start the decode thread");
    d->thread_started = 1;
    return 0;
}

/* Takes the next decoded picture. Returns 1 with *pts_us its media time in microseconds from the stream start (-1
 * when unknown), 0 at the end of the stream, or a negative AVERROR (sd_error says what). */
SD_API int sd_grab(sd_decoder *d, int64_t *pts_us) {
    d->has_frame = 0;
    av_frame_unref(d->current);
    pthread_mutex_lock(&d->lock);
    while (d->count == 0 && !d->ended && !atomic_load(&d->abort)) pthread_cond_wait(&d->changed, &d->lock);
    int rc;
    if (d->count > 0) {
        av_frame_move_ref(d->current, d->queue[d->head]);
        *pts_us = d->queue_pts[d->head];
        d->head = (d->head + 1) % SD_QUEUE;
        d->count--;
        pthread_cond_broadcast(&d->changed);
        d->has_frame = 1;
        rc = 1;
    } else if (d->ended) {
        rc = d->end_rc;
        if (rc < 0) memcpy(d->error, d->thread_error, sizeof d->error);
    } else {
        rc = fail(d, AVERROR_EXIT, "aborted");
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* Writes the grabbed picture as BGR24 of w x h into dst (rows `stride` bytes apart) with swscale: its SIMD unscaled
 * converter when the size is unchanged (BT.601 limited range for yuv420p, full range for yuvj420p, as the stream
 * says), bilinear scaling otherwise. Reads straight from the decoder's picture: no intermediate copy. */
SD_API int sd_retrieve_bgr(sd_decoder *d, uint8_t *dst, int64_t stride, int w, int h) {
    if (!d->has_frame) return fail(d, AVERROR(EINVAL), "no grabbed picture");
    if (w <= 0 || h <= 0 || stride < 3LL * w || stride > INT32_MAX) return fail(d, AVERROR(EINVAL), "bad target size");
    AVFrame *f = d->current;
    int fmt = f->format;
    if (!d->sws || d->sws_src_w != f->width || d->sws_src_h != f->height || d->sws_src_fmt != fmt || d->sws_dst_w != w || d->sws_dst_h != h) {
        sws_freeContext(d->sws);
        d->sws = sws_getContext(f->width, f->height, fmt, w, h, AV_PIX_FMT_BGR24, SWS_BILINEAR, NULL, NULL, NULL);
        if (!d->sws) return fail(d, AVERROR(EINVAL), "cannot convert this pixel format");
        d->sws_src_w = f->width;
        d->sws_src_h = f->height;
        d->sws_src_fmt = fmt;
        d->sws_dst_w = w;
        d->sws_dst_h = h;
    }
    uint8_t *planes[4] = {dst, NULL, NULL, NULL};
    int strides[4] = {(int)stride, 0, 0, 0};
    int rc = sws_scale(d->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    if (rc <= 0) return fail(d, AVERROR(EINVAL), "conversion failed");
    d->converted_count++;
    return 0;
}

/* Writes the grabbed picture as I420 (yuv420p, BT.601 limited range) of w x h (both even) into dst: the Y plane, then
 * the U and V planes, each tightly packed. A yuv420p picture of that size is copied plane by plane (no conversion);
 * any other format (yuvj420p's full range, nv12, 4:2:2) or size goes through swscale. */
SD_API int sd_retrieve_i420(sd_decoder *d, uint8_t *dst, int w, int h) {
    if (!d->has_frame) return fail(d, AVERROR(EINVAL), "no grabbed picture");
    if (w <= 0 || h <= 0 || (w & 1) || (h & 1)) return fail(d, AVERROR(EINVAL), "bad target size (I420 needs even sides)");
    AVFrame *f = d->current;
    uint8_t *planes[4] = {dst, dst + (size_t)w * h, dst + (size_t)w * h * 5 / 4, NULL};
    int strides[4] = {w, w / 2, w / 2, 0};
    if (f->format == AV_PIX_FMT_YUV420P && f->width == w && f->height == h) {
        av_image_copy(planes, strides, (const uint8_t **)f->data, f->linesize, AV_PIX_FMT_YUV420P, w, h);
        d->copied_count++;
        return 0;
    }
    if (!d->sws_i420 || d->i420_src_w != f->width || d->i420_src_h != f->height || d->i420_src_fmt != f->format ||
        d->i420_dst_w != w || d->i420_dst_h != h) {
        sws_freeContext(d->sws_i420);
        d->sws_i420 = sws_getContext(f->width, f->height, f->format, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
        if (!d->sws_i420) return fail(d, AVERROR(EINVAL), "cannot convert this pixel format");
        d->i420_src_w = f->width;
        d->i420_src_h = f->height;
        d->i420_src_fmt = f->format;
        d->i420_dst_w = w;
        d->i420_dst_h = h;
    }
    int rc = sws_scale(d->sws_i420, (const uint8_t *const *)f->data, f->linesize, 0, f->height, planes, strides);
    if (rc <= 0) return fail(d, AVERROR(EINVAL), "conversion failed");
    d->copied_count++;
    return 0;
}

/* Starts again from the beginning (files that loop). */
SD_API int sd_rewind(sd_decoder *d) {
    stop_thread(d);
    av_frame_unref(d->current);
    d->has_frame = 0;
    int rc = avformat_seek_file(d->format, -1, INT64_MIN, d->format->start_time != AV_NOPTS_VALUE ? d->format->start_time : 0, INT64_MAX, 0);
    if (rc < 0) return fail(d, rc, "cannot seek to the start");
    /* The ring's packets are of the pass that ended: a clip never spans the seek (it is cut shorter instead). */
    pthread_mutex_lock(&d->lock);
    clip_clear(d);
    pthread_mutex_unlock(&d->lock);
    avcodec_flush_buffers(d->codec);
    d->draining = 0;
    return start_thread(d);
}
