/*
 * streamdec's event clips (version 4): with sd_clip_buffer on, the decode thread keeps references to the last
 * buffer_us of the video stream's compressed packets (whole GOPs, so the ring always starts at a keyframe), under the
 * decoder's lock; sd_clip remuxes a window of them into an MP4 (stream copy, +faststart) without decoding anything, on
 * the caller's thread, after taking references under the lock. A rewind empties the ring (streamdec.c).
 */
#include <stdio.h>
#include <string.h>

#include "streamdec.h"

/* ---- Event clips: a ring of the last packets, cut into MP4 by stream copy ---------------------------------------- */

/* A packet's time in microseconds from the stream start, as sd_grab counts (pts; dts when it has none). */
static int64_t clip_time_us(const sd_decoder *d, const AVPacket *p) {
    int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    return ts == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(ts - d->clip_start, d->clip_tb, AV_TIME_BASE_Q);
}

/* The end of the window in decode order (dts; pts when it has none): every packet up to it has its references before it. */
static int64_t clip_decode_us(const sd_decoder *d, const AVPacket *p) {
    int64_t ts = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
    return ts == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(ts - d->clip_start, d->clip_tb, AV_TIME_BASE_Q);
}

static AVPacket *clip_at(const sd_decoder *d, int i) { return d->clip_ring[(d->clip_head + i) % d->clip_cap]; }

/* Drops the oldest packet (under lock). */
static void clip_drop_oldest(sd_decoder *d) {
    AVPacket *p = d->clip_ring[d->clip_head];
    d->clip_bytes -= p->size;
    av_packet_unref(p);
    d->clip_head = (d->clip_head + 1) % d->clip_cap;
    d->clip_count--;
}

/* Empties the ring (under lock, or with the decode thread stopped); the packet shells stay for reuse. */
void clip_clear(sd_decoder *d) {
    while (d->clip_count > 0) clip_drop_oldest(d);
    d->clip_head = 0;
    d->clip_bytes = 0;
    d->clip_newest_us = INT64_MIN;
}

/* Room for one more packet: the ring's shells double (allocated once, reused), oldest first at index 0. */
static int clip_grow(sd_decoder *d) {
    int cap = d->clip_cap ? d->clip_cap * 2 : 256;
    AVPacket **ring = av_calloc(cap, sizeof *ring);
    if (!ring) return AVERROR(ENOMEM);
    for (int i = 0; i < d->clip_count; i++) ring[i] = clip_at(d, i);
    /* The spare shells keep their place after the live ones. */
    for (int i = d->clip_count, j = 0; j < d->clip_cap - d->clip_count; i++, j++)
        ring[i] = d->clip_ring[(d->clip_head + d->clip_count + j) % d->clip_cap];
    for (int i = d->clip_cap; i < cap; i++) {
        if (!(ring[i] = av_packet_alloc())) {
            for (int k = d->clip_cap; k < i; k++) av_packet_free(&ring[k]);
            av_free(ring);
            return AVERROR(ENOMEM);
        }
    }
    av_free(d->clip_ring);
    d->clip_ring = ring;
    d->clip_head = 0;
    d->clip_cap = cap;
    return 0;
}

/* The decode thread's hook: keeps a reference to `packet` and evicts whole GOPs from the oldest end while the ring spans
 * more than clip_buffer_us, so that the ring always starts at a keyframe and never holds more than the buffer. */
void clip_add(sd_decoder *d, const AVPacket *packet) {
    int64_t t = clip_time_us(d, packet);
    if (t == INT64_MIN) return; /* no time: it could not be placed in a window */
    pthread_mutex_lock(&d->lock);
    int64_t buffer = atomic_load(&d->clip_buffer_us);
    int key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
    /* Time went back by more than the buffer (a camera's clock reset, a wrap): a new timeline, the old packets go. */
    if (d->clip_count > 0 && t < d->clip_newest_us - buffer) clip_clear(d);
    if (buffer <= 0 || (d->clip_count == 0 && !key) || (d->clip_count == d->clip_cap && clip_grow(d) < 0)) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    AVPacket *slot = d->clip_ring[(d->clip_head + d->clip_count) % d->clip_cap];
    if (av_packet_ref(slot, packet) == 0) {
        d->clip_count++;
        d->clip_bytes += slot->size;
        if (d->clip_count == 1 || t > d->clip_newest_us) d->clip_newest_us = t;
    }
    /* Whole GOPs out while the ring spans more than the buffer. A GOP longer than the buffer alone is dropped too:
     * the ring then waits for the next keyframe rather than hold more than it may. */
    /* And never more than 240 packets a second of buffer, whatever the timestamps say (a stream whose times stand
     * still must not grow the ring without end). */
    int64_t most = buffer / 1000000 * 240 + 240;
    while (d->clip_count > 0 && (d->clip_newest_us - clip_time_us(d, clip_at(d, 0)) > buffer || d->clip_count > most)) {
        do clip_drop_oldest(d);
        while (d->clip_count > 0 && !(clip_at(d, 0)->flags & AV_PKT_FLAG_KEY));
    }
    pthread_mutex_unlock(&d->lock);
}

/* Turns the clip buffer on (buffer_us > 0: keep the last buffer_us of packets) or off (0, the default: nothing kept).
 * Any thread, any time; turning it off, or shortening it, takes effect with the next packet. */
SD_API void sd_clip_buffer(sd_decoder *d, int64_t buffer_us) {
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    atomic_store(&d->clip_buffer_us, buffer_us > 0 ? buffer_us : 0);
    if (buffer_us <= 0) clip_clear(d);
    pthread_mutex_unlock(&d->lock);
}

/* What the ring holds now: packets, bytes, and the media times of its first keyframe and its newest packet
 * (microseconds from the stream start; both 0 when it is empty). */
SD_API void sd_clip_stats(sd_decoder *d, int64_t *packets, int64_t *bytes, int64_t *first_us, int64_t *newest_us) {
    pthread_mutex_lock(&d->lock);
    *packets = d->clip_count;
    *bytes = d->clip_bytes;
    *first_us = d->clip_count > 0 ? clip_time_us(d, clip_at(d, 0)) : 0;
    *newest_us = d->clip_count > 0 ? d->clip_newest_us : 0;
    pthread_mutex_unlock(&d->lock);
}

/* The reason of sd_clip's last failure (kept apart from sd_error: sd_clip runs on another thread than sd_grab). */
SD_API const char *sd_clip_error(const sd_decoder *d) { return d ? d->clip_error : "no decoder"; }

static int clip_fail(sd_decoder *d, int code, const char *what) { return fail_to(d->clip_error, sizeof d->clip_error, code, what); }

/* Writes `count` packets into an MP4 at `path` (stream copy, +faststart), timestamps shifted so that the first
 * picture (the keyframe) is shown at 0; with B-frames the first decode times are then negative, which MP4 keeps with an
 * edit list, as `ffmpeg -c copy` does. Removes the file when it fails. */
static int clip_write(sd_decoder *d, AVPacket **packets, int count, const char *path) {
    AVFormatContext *out = NULL;
    int rc = avformat_alloc_output_context2(&out, NULL, "mp4", path);
    if (rc < 0 || !out) return clip_fail(d, rc < 0 ? rc : AVERROR(ENOMEM), "cannot make an MP4 muxer");
    AVDictionary *options = NULL;
    AVStream *s = avformat_new_stream(out, NULL);
    if (!s) {
        rc = clip_fail(d, AVERROR(ENOMEM), "out of memory");
        goto done;
    }
    rc = avcodec_parameters_copy(s->codecpar, d->clip_par);
    if (rc < 0) {
        clip_fail(d, rc, "bad codec parameters");
        goto done;
    }
    s->codecpar->codec_tag = 0; /* the MP4 muxer's own tag for the codec, whatever the source container used */
    s->time_base = d->clip_tb;
    rc = avio_open(&out->pb, path, AVIO_FLAG_WRITE);
    if (rc < 0) {
        clip_fail(d, rc, "cannot create the clip file");
        goto done;
    }
    av_dict_set(&options, "movflags", "+faststart", 0);
    rc = avformat_write_header(out, &options);
    if (rc < 0) {
        clip_fail(d, rc, "cannot write the MP4 header");
        goto done;
    }
    int64_t zero = packets[0]->pts != AV_NOPTS_VALUE ? packets[0]->pts : packets[0]->dts;
    for (int i = 0; i < count; i++) {
        AVPacket *p = packets[i];
        if (p->pts != AV_NOPTS_VALUE) p->pts -= zero;
        if (p->dts != AV_NOPTS_VALUE) p->dts -= zero;
        p->stream_index = 0;
        p->pos = -1;
        av_packet_rescale_ts(p, d->clip_tb, s->time_base);
        rc = av_write_frame(out, p);
        if (rc < 0) {
            clip_fail(d, rc, "cannot write a packet");
            goto done;
        }
    }
    rc = av_write_trailer(out);
    if (rc < 0) clip_fail(d, rc, "cannot finish the MP4 (faststart)");
done:
    av_dict_free(&options);
    if (out && out->pb) {
        int closed = avio_closep(&out->pb);
        if (rc >= 0 && closed < 0) rc = clip_fail(d, closed, "cannot close the clip file");
    }
    avformat_free_context(out);
    if (rc < 0) remove(path);
    return rc < 0 ? rc : 0;
}

/* Cuts the window [from_us, to_us] (media time from the stream start, as sd_grab's) out of the ring into an MP4 at
 * `path` by stream copy: from the last keyframe at or before from_us (the ring's first one when from_us is older than
 * the ring: a shorter clip) through the last packet whose decode time is at or before to_us, so that every packet's
 * references are in the clip. *first_us and *last_us: the media times of its first and last picture; *packets: how
 * many it holds. Any thread. Returns 0, or an AVERROR with sd_clip_error saying why: AVERROR(ENOSYS) when the buffer
 * is off, AVERROR(EAGAIN) when the window has not arrived yet, AVERROR(ERANGE) when it is older than the ring. */
SD_API int sd_clip(sd_decoder *d, int64_t from_us, int64_t to_us, const char *path, int64_t *first_us, int64_t *last_us,
                   int64_t *packets) {
    *first_us = *last_us = *packets = 0;
    if (!d || !path || to_us < from_us) return d ? clip_fail(d, AVERROR(EINVAL), "bad window") : AVERROR(EINVAL);
    /* Under the lock only references are taken (no copies, no I/O), so the decode thread waits microseconds. */
    pthread_mutex_lock(&d->lock);
    if (atomic_load(&d->clip_buffer_us) <= 0) {
        pthread_mutex_unlock(&d->lock);
        return clip_fail(d, AVERROR(ENOSYS), "the clip buffer is off");
    }
    int start = -1, end = -1;
    for (int i = 0; i < d->clip_count; i++) {
        AVPacket *p = clip_at(d, i);
        if ((p->flags & AV_PKT_FLAG_KEY) && (start < 0 || clip_time_us(d, p) <= from_us)) start = i;
        if (clip_decode_us(d, p) <= to_us) end = i;
    }
    int rc = 0;
    if (d->clip_count == 0 || d->clip_newest_us < from_us) {
        rc = clip_fail(d, AVERROR(EAGAIN), "the window has not arrived yet");
    } else if (start < 0 || end < start) {
        rc = clip_fail(d, AVERROR(ERANGE), "the window is older than the clip buffer");
    }
    AVPacket **copy = NULL;
    int count = rc == 0 ? end - start + 1 : 0;
    if (count > 0 && !(copy = av_calloc(count, sizeof *copy))) rc = clip_fail(d, AVERROR(ENOMEM), "out of memory");
    for (int i = 0; rc == 0 && i < count; i++) {
        copy[i] = av_packet_clone(clip_at(d, start + i));
        if (!copy[i]) rc = clip_fail(d, AVERROR(ENOMEM), "out of memory");
    }
    pthread_mutex_unlock(&d->lock);
    if (rc == 0) {
        int64_t first = INT64_MAX, last = INT64_MIN;
        for (int i = 0; i < count; i++) {
            int64_t t = clip_time_us(d, copy[i]);
            if (t < first) first = t;
            if (t > last) last = t;
        }
        rc = clip_write(d, copy, count, path);
        if (rc == 0) {
            *first_us = first;
            *last_us = last;
            *packets = count;
        }
    }
    for (int i = 0; copy && i < count; i++) av_packet_free(&copy[i]);
    av_free(copy);
    return rc;
}
