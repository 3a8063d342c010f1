/* Read-only NBD server over an h2k_image (see nbd_server.h).
 *
 * Wire format: the NBD protocol (NetworkBlockDevice/nbd doc/proto.md); every
 * integer is big-endian. One acceptor thread polls the listening socket and
 * a wake-up pipe; each connection gets its own thread. h2k_nbd_stop() wakes
 * the acceptor through the pipe and connection threads by shutdown(2) on
 * their sockets, so it never waits on a client.
 *
 * Nothing the client sends is trusted: lengths are bounded before any
 * allocation, a bad magic or an oversized option closes that connection
 * only, and a failed send (client gone) ends its thread without a signal.
 */
#include "nbd/nbd_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

/* ---- Protocol constants ---- */

#define NBD_MAGIC UINT64_C(0x4e42444d41474943)    /* "NBDMAGIC" */
#define NBD_IHAVEOPT UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_REP_MAGIC UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC UINT32_C(0x67446698)

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Transmission flags. Multiple connections are safe: nothing is written. */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define EXPORT_FLAGS                                                           \
  (NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH |             \
   NBD_FLAG_CAN_MULTI_CONN)

enum nbd_option {
  NBD_OPT_EXPORT_NAME = 1,
  NBD_OPT_ABORT = 2,
  NBD_OPT_LIST = 3,
  NBD_OPT_INFO = 6,
  NBD_OPT_GO = 7,
};

#define NBD_REP_ACK UINT32_C(1)
#define NBD_REP_SERVER UINT32_C(2)
#define NBD_REP_INFO UINT32_C(3)
#define NBD_REP_ERR_UNSUP (UINT32_C(1) << 31 | 1)
#define NBD_REP_ERR_INVALID (UINT32_C(1) << 31 | 3)

#define NBD_INFO_EXPORT 0
#define NBD_INFO_BLOCK_SIZE 3

enum nbd_command {
  NBD_CMD_READ = 0,
  NBD_CMD_WRITE = 1,
  NBD_CMD_DISC = 2,
  NBD_CMD_FLUSH = 3,
  NBD_CMD_TRIM = 4,
  NBD_CMD_WRITE_ZEROES = 6,
};

/* Error values on the wire (fixed by the protocol, not the host's errno). */
#define NBD_EPERM UINT32_C(1)
#define NBD_EIO UINT32_C(5)
#define NBD_ENOMEM UINT32_C(12)
#define NBD_EINVAL UINT32_C(22)

/* ---- Limits on what a client may make us do ---- */

#define MAX_REQUEST_LEN                                                        \
  (UINT32_C(32) << 20) /* also advertised as max block                         \
                        */
#define MAX_OPTION_LEN (UINT32_C(64) << 10)
#define PREFERRED_BLOCK UINT32_C(4096)
#define MAX_CONNECTIONS 64
#define LISTEN_BACKLOG 16
#define OPTION_HEADER_LEN 16
#define REQUEST_LEN 28
#define REPLY_HEADER_LEN 16
#define EXPORT_NAME_ZEROES 124 /* padding of the old-style reply */

struct conn {
  h2k_nbd_server *srv;
  int fd; /* -1 once closed; changed under srv->lock */
  bool done;
  pthread_t thread;
  struct conn *next;
  unsigned long id; /* for log messages */
  bool no_zeroes;   /* client set NBD_FLAG_C_NO_ZEROES */
  uint8_t *buf;     /* reply header + read data, grown on demand */
  size_t cap;
};

struct h2k_nbd_server {
  h2k_image *img;
  uint64_t size;
  int listen_fd;
  int wake[2];       /* written once by h2k_nbd_stop */
  char *socket_path; /* absolute: unlinked at stop, whatever the cwd */
  char *uri;
  pthread_t acceptor;
  pthread_mutex_t lock; /* guards conns, nconns, conn->fd, conn->done */
  struct conn *conns;
  int nconns;
  unsigned long next_id;
};

enum next_step { STEP_CONTINUE, STEP_TRANSMIT, STEP_CLOSE };

/* ---- Big-endian encoding ---- */

static void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v) {
  put_be16(p, (uint16_t)(v >> 16));
  put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32));
  put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static uint64_t get_be64(const uint8_t *p) {
  return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* ---- Socket I/O: whole buffers, EINTR retried, no SIGPIPE ---- */

/* False on EOF, error or shutdown: the connection is over either way. */
static bool recv_all(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, 0);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

static bool send_all(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

/* Consume `len` bytes the client sent and we do not want (a write payload),
 * so the stream stays in step. */
static bool recv_discard(int fd, uint64_t len) {
  uint8_t scratch[16384];
  while (len > 0) {
    size_t n = len < sizeof scratch ? (size_t)len : sizeof scratch;
    if (!recv_all(fd, scratch, n))
      return false;
    len -= n;
  }
  return true;
}

/* ---- Handshake ---- */

static bool send_option_reply(struct conn *c, uint32_t option, uint32_t type,
                              const void *data, uint32_t len) {
  uint8_t hdr[20];
  put_be64(hdr, NBD_REP_MAGIC);
  put_be32(hdr + 8, option);
  put_be32(hdr + 12, type);
  put_be32(hdr + 16, len);
  return send_all(c->fd, hdr, sizeof hdr) &&
         (len == 0 || send_all(c->fd, data, len));
}

/* NBD_OPT_INFO / NBD_OPT_GO data: u32 name length, name, u16 number of
 * information requests, that many u16. We have one export whatever its name
 * and always send the same information, so only the shape is checked. */
static bool info_request_is_well_formed(const uint8_t *data, uint32_t len) {
  if (len < 6)
    return false;
  uint32_t name_len = get_be32(data);
  if (name_len > len - 6)
    return false;
  uint32_t requests = get_be16(data + 4 + name_len);
  return len == 6 + name_len + 2 * requests;
}

static bool send_export_info(struct conn *c, uint32_t option) {
  uint8_t export_info[12];
  put_be16(export_info, NBD_INFO_EXPORT);
  put_be64(export_info + 2, c->srv->size);
  put_be16(export_info + 10, EXPORT_FLAGS);

  /* Sent even unasked (the protocol allows it): tells qemu how large a
   * request may be, with no alignment constraint (minimum 1). */
  uint8_t block_info[14];
  put_be16(block_info, NBD_INFO_BLOCK_SIZE);
  put_be32(block_info + 2, 1);
  put_be32(block_info + 6, PREFERRED_BLOCK);
  put_be32(block_info + 10, MAX_REQUEST_LEN);

  return send_option_reply(c, option, NBD_REP_INFO, export_info,
                           sizeof export_info) &&
         send_option_reply(c, option, NBD_REP_INFO, block_info,
                           sizeof block_info) &&
         send_option_reply(c, option, NBD_REP_ACK, NULL, 0);
}

static enum next_step answer_info_or_go(struct conn *c, uint32_t option,
                                        const uint8_t *data, uint32_t len) {
  if (!info_request_is_well_formed(data, len))
    return send_option_reply(c, option, NBD_REP_ERR_INVALID, NULL, 0)
               ? STEP_CONTINUE
               : STEP_CLOSE;
  if (!send_export_info(c, option))
    return STEP_CLOSE;
  return option == NBD_OPT_GO ? STEP_TRANSMIT : STEP_CONTINUE;
}

/* Old-style answer: no option reply header, size and flags only. */
static enum next_step answer_export_name(struct conn *c) {
  uint8_t reply[10 + EXPORT_NAME_ZEROES] = {0};
  put_be64(reply, c->srv->size);
  put_be16(reply + 8, EXPORT_FLAGS);
  size_t len = c->no_zeroes ? 10 : sizeof reply;
  return send_all(c->fd, reply, len) ? STEP_TRANSMIT : STEP_CLOSE;
}

static enum next_step answer_list(struct conn *c, uint32_t len) {
  if (len != 0)
    return send_option_reply(c, NBD_OPT_LIST, NBD_REP_ERR_INVALID, NULL, 0)
               ? STEP_CONTINUE
               : STEP_CLOSE;
  uint8_t empty_name[4] = {0}; /* u32 name length 0: the default export */
  bool ok = send_option_reply(c, NBD_OPT_LIST, NBD_REP_SERVER, empty_name,
                              sizeof empty_name) &&
            send_option_reply(c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
  return ok ? STEP_CONTINUE : STEP_CLOSE;
}

static enum next_step answer_option(struct conn *c, uint32_t option,
                                    const uint8_t *data, uint32_t len) {
  switch (option) {
  case NBD_OPT_EXPORT_NAME:
    return answer_export_name(c);
  case NBD_OPT_ABORT:
    send_option_reply(c, option, NBD_REP_ACK, NULL, 0); /* best effort */
    return STEP_CLOSE;
  case NBD_OPT_LIST:
    return answer_list(c, len);
  case NBD_OPT_INFO:
  case NBD_OPT_GO:
    return answer_info_or_go(c, option, data, len);
  default:
    /* STRUCTURED_REPLY, SET_META_CONTEXT, STARTTLS, EXTENDED_HEADERS...:
     * refusing them makes the client fall back to simple replies. */
    return send_option_reply(c, option, NBD_REP_ERR_UNSUP, NULL, 0)
               ? STEP_CONTINUE
               : STEP_CLOSE;
  }
}

static enum next_step handle_option(struct conn *c) {
  uint8_t hdr[OPTION_HEADER_LEN];
  if (!recv_all(c->fd, hdr, sizeof hdr))
    return STEP_CLOSE;
  if (get_be64(hdr) != NBD_IHAVEOPT) {
    h2k_debug("nbd: connection %lu: bad option magic, closing", c->id);
    return STEP_CLOSE;
  }
  uint32_t option = get_be32(hdr + 8);
  uint32_t len = get_be32(hdr + 12);
  if (len > MAX_OPTION_LEN) {
    h2k_debug("nbd: connection %lu: option %" PRIu32 " of %" PRIu32
              " bytes is too long, closing",
              c->id, option, len);
    return STEP_CLOSE;
  }
  uint8_t *data = NULL;
  if (len > 0) {
    data = malloc(len);
    if (!data || !recv_all(c->fd, data, len)) {
      free(data);
      return STEP_CLOSE;
    }
  }
  enum next_step step = answer_option(c, option, data, len);
  free(data);
  return step;
}

static bool negotiate(struct conn *c) {
  uint8_t greeting[18];
  put_be64(greeting, NBD_MAGIC);
  put_be64(greeting + 8, NBD_IHAVEOPT);
  put_be16(greeting + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  uint8_t client_flags_be[4];
  if (!send_all(c->fd, greeting, sizeof greeting) ||
      !recv_all(c->fd, client_flags_be, sizeof client_flags_be))
    return false;
  uint32_t client_flags = get_be32(client_flags_be);
  if (client_flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
    h2k_debug("nbd: connection %lu: unknown client flags 0x%" PRIx32
              ", closing",
              c->id, client_flags);
    return false;
  }
  c->no_zeroes = client_flags & NBD_FLAG_C_NO_ZEROES;
  for (;;) {
    enum next_step step = handle_option(c);
    if (step != STEP_CONTINUE)
      return step == STEP_TRANSMIT;
  }
}

/* ---- Transmission ---- */

static bool send_simple_reply(struct conn *c, uint64_t cookie, uint32_t error) {
  uint8_t reply[REPLY_HEADER_LEN];
  put_be32(reply, NBD_SIMPLE_REPLY_MAGIC);
  put_be32(reply + 4, error);
  put_be64(reply + 8, cookie);
  return send_all(c->fd, reply, sizeof reply);
}

static bool ensure_buffer(struct conn *c, size_t need) {
  if (need <= c->cap)
    return true;
  uint8_t *p = realloc(c->buf, need);
  if (!p)
    return false;
  c->buf = p;
  c->cap = need;
  return true;
}

static bool do_read(struct conn *c, uint64_t cookie, uint64_t off,
                    uint32_t len) {
  uint64_t size = c->srv->size;
  if (len == 0 || len > MAX_REQUEST_LEN || off > size || len > size - off)
    return send_simple_reply(c, cookie, NBD_EINVAL);
  if (!ensure_buffer(c, REPLY_HEADER_LEN + (size_t)len))
    return send_simple_reply(c, cookie, NBD_ENOMEM);
  h2k_error err = {0};
  if (h2k_image_read(c->srv->img, off, c->buf + REPLY_HEADER_LEN, len, &err) !=
      0) {
    h2k_warn("nbd: read of %" PRIu32 " bytes at offset %" PRIu64 " failed: %s",
             len, off, h2k_error_text(&err));
    return send_simple_reply(c, cookie, NBD_EIO);
  }
  /* Header and data in one send. */
  put_be32(c->buf, NBD_SIMPLE_REPLY_MAGIC);
  put_be32(c->buf + 4, 0);
  put_be64(c->buf + 8, cookie);
  return send_all(c->fd, c->buf, REPLY_HEADER_LEN + (size_t)len);
}

/* Answer one request; false ends the connection. */
static bool handle_request(struct conn *c, uint16_t type, uint64_t cookie,
                           uint64_t off, uint32_t len) {
  switch (type) {
  case NBD_CMD_READ:
    return do_read(c, cookie, off, len);
  case NBD_CMD_DISC:
    return false;
  case NBD_CMD_FLUSH:
    return send_simple_reply(c, cookie, 0); /* nothing is ever written */
  case NBD_CMD_WRITE:
    /* The payload follows the request: consume it to stay in step, unless
     * it is larger than any client may send. */
    if (len > MAX_REQUEST_LEN || !recv_discard(c->fd, len))
      return false;
    return send_simple_reply(c, cookie, NBD_EPERM);
  case NBD_CMD_TRIM:
  case NBD_CMD_WRITE_ZEROES:
    return send_simple_reply(c, cookie, NBD_EPERM);
  default:
    return send_simple_reply(c, cookie, NBD_EINVAL);
  }
}

static void serve_requests(struct conn *c) {
  for (;;) {
    uint8_t req[REQUEST_LEN];
    if (!recv_all(c->fd, req, sizeof req))
      return;
    if (get_be32(req) != NBD_REQUEST_MAGIC) {
      h2k_debug("nbd: connection %lu: bad request magic, closing", c->id);
      return;
    }
    /* req + 4: command flags (FUA...), meaningless for a read-only export */
    uint16_t type = get_be16(req + 6);
    uint64_t cookie = get_be64(req + 8);
    uint64_t off = get_be64(req + 16);
    uint32_t len = get_be32(req + 24);
    if (!handle_request(c, type, cookie, off, len))
      return;
  }
}

static void *connection_main(void *arg) {
  struct conn *c = arg;
  h2k_debug("nbd: connection %lu opened", c->id);
  if (negotiate(c))
    serve_requests(c);
  free(c->buf);
  c->buf = NULL;
  c->cap = 0;
  pthread_mutex_lock(&c->srv->lock);
  close(c->fd);
  c->fd = -1;
  c->done = true;
  pthread_mutex_unlock(&c->srv->lock);
  h2k_debug("nbd: connection %lu closed", c->id);
  return NULL;
}

/* ---- Threads ---- */

/* Server threads take no asynchronous signals: SIGINT, SIGTERM... stay with
 * the threads of the program that embeds us. Faults still reach them. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  sigset_t blocked, old;
  sigfillset(&blocked);
  sigdelset(&blocked, SIGSEGV);
  sigdelset(&blocked, SIGBUS);
  sigdelset(&blocked, SIGFPE);
  sigdelset(&blocked, SIGILL);
  sigdelset(&blocked, SIGABRT);
  pthread_sigmask(SIG_SETMASK, &blocked, &old);
  int rc = pthread_create(t, NULL, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

/* Join the connection threads that have finished, outside the lock. */
static void reap_finished(h2k_nbd_server *s) {
  struct conn *finished = NULL;
  pthread_mutex_lock(&s->lock);
  for (struct conn **pp = &s->conns; *pp;) {
    struct conn *c = *pp;
    if (c->done) {
      *pp = c->next;
      c->next = finished;
      finished = c;
      s->nconns--;
    } else {
      pp = &c->next;
    }
  }
  pthread_mutex_unlock(&s->lock);
  while (finished) {
    struct conn *c = finished;
    finished = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
}

/* Sleep a little unless stopped: after EMFILE and the like, accept would
 * fail again at once. */
static void back_off(h2k_nbd_server *s) {
  struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
  poll(&p, 1, 100);
}

static void accept_one(h2k_nbd_server *s) {
  int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
        errno != ECONNABORTED)
      back_off(s);
    return;
  }
  pthread_mutex_lock(&s->lock);
  struct conn *c = s->nconns < MAX_CONNECTIONS ? calloc(1, sizeof *c) : NULL;
  if (!c) {
    pthread_mutex_unlock(&s->lock);
    h2k_warn("nbd: refusing a connection to %s (%d open)", s->socket_path,
             MAX_CONNECTIONS);
    close(fd);
    return;
  }
  c->srv = s;
  c->fd = fd;
  c->id = ++s->next_id;
  if (start_thread(&c->thread, connection_main, c) != 0) {
    pthread_mutex_unlock(&s->lock);
    h2k_warn("nbd: cannot start a thread for a connection to %s",
             s->socket_path);
    close(fd);
    free(c);
    return;
  }
  c->next = s->conns;
  s->conns = c;
  s->nconns++;
  pthread_mutex_unlock(&s->lock);
}

static void *acceptor_main(void *arg) {
  h2k_nbd_server *s = arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                          {.fd = s->wake[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno != EINTR)
        back_off(s);
      continue;
    }
    if (p[1].revents)
      return NULL;
    reap_finished(s); /* first, so closed connections free their slots */
    if (p[0].revents)
      accept_one(s);
  }
}

/* ---- Public API ---- */

static bool uri_char_is_safe(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch != '\0' && strchr("-._~/", ch));
}

/* `abs` is absolute since the client (qemu) may run elsewhere; qemu
 * percent-decodes query values, so any path survives the URI. */
static char *make_uri(const char *abs) {
  static const char prefix[] = "nbd+unix:///?socket=";
  char *uri = malloc(sizeof prefix + 3 * strlen(abs));
  if (uri) {
    char *w = uri + sprintf(uri, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)abs; *p; p++) {
      if (uri_char_is_safe(*p))
        *w++ = (char)*p;
      else
        w += sprintf(w, "%%%02X", *p);
    }
    *w = '\0';
  }
  return uri;
}

const char *h2k_nbd_uri(const h2k_nbd_server *s) {
  return s ? s->uri : NULL;
}

/* Free a server whose acceptor never started. */
static void destroy_unstarted(h2k_nbd_server *s, bool bound) {
  if (s->listen_fd >= 0)
    close(s->listen_fd);
  if (bound)
    unlink(s->socket_path);
  for (int i = 0; i < 2; i++)
    if (s->wake[i] >= 0)
      close(s->wake[i]);
  free(s->socket_path);
  free(s->uri);
  free(s);
}

/* Bound by the path as given: only that one is known to fit sun_path. */
static int bind_listener(h2k_nbd_server *s, const char *path, h2k_error *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, strlen(path) + 1);
  s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot create the NBD socket %s",
                  s->socket_path);
    return -1;
  }
  if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    h2k_err_errno(err, H2K_E_ENV, e, "cannot create the NBD socket %s",
                  s->socket_path);
    if (e == EADDRINUSE)
      h2k_err_hint(err, "a file already exists there: remove it if it is a "
                        "stale socket, or pick another path");
    return -1;
  }
  return 0;
}

h2k_nbd_server *h2k_nbd_serve(h2k_image *img, const char *socket_path,
                              h2k_error *err) {
  struct sockaddr_un addr;
  if (!img || !socket_path || !socket_path[0]) {
    h2k_err_set(err, H2K_E_FAIL, "h2k_nbd_serve: no image or socket path");
    return NULL;
  }
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    h2k_err_set(err, H2K_E_ENV,
                "NBD socket path %s is %zu bytes long, more than the %zu a "
                "Unix socket allows",
                socket_path, strlen(socket_path), sizeof addr.sun_path - 1);
    h2k_err_hint(err, "use a shorter conversion directory");
    return NULL;
  }
  h2k_nbd_server *s = calloc(1, sizeof *s);
  if (!s) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory starting the NBD server");
    return NULL;
  }
  s->img = img;
  s->size = h2k_image_virtual_size(img);
  s->listen_fd = s->wake[0] = s->wake[1] = -1;
  s->socket_path = h2k_path_absolute(socket_path);
  s->uri = s->socket_path ? make_uri(s->socket_path) : NULL;
  if (!s->socket_path || !s->uri) {
    h2k_err_set(err, H2K_E_FAIL, "out of memory starting the NBD server");
    destroy_unstarted(s, false);
    return NULL;
  }
  if (pipe2(s->wake, O_CLOEXEC) != 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot start the NBD server on %s",
                  socket_path);
    destroy_unstarted(s, false);
    return NULL;
  }
  if (bind_listener(s, socket_path, err) != 0) {
    destroy_unstarted(s, false);
    return NULL;
  }
  if (listen(s->listen_fd, LISTEN_BACKLOG) != 0) {
    h2k_err_errno(err, H2K_E_ENV, errno, "cannot listen on the NBD socket %s",
                  socket_path);
    destroy_unstarted(s, true);
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  int rc = start_thread(&s->acceptor, acceptor_main, s);
  if (rc != 0) {
    h2k_err_errno(err, H2K_E_ENV, rc, "cannot start the NBD server thread");
    pthread_mutex_destroy(&s->lock);
    destroy_unstarted(s, true);
    return NULL;
  }
  h2k_debug("nbd: serving %s (%" PRIu64 " bytes) at %s", h2k_image_path(img),
            s->size, s->uri);
  return s;
}

static void wake_acceptor(h2k_nbd_server *s) {
  while (write(s->wake[1], "x", 1) < 0 && errno == EINTR)
    ;
}

void h2k_nbd_stop(h2k_nbd_server *s) {
  if (!s)
    return;
  wake_acceptor(s);
  pthread_join(s->acceptor, NULL);
  close(s->listen_fd);
  unlink(s->socket_path);

  /* Wake every connection thread out of recv/send; each closes its own fd. */
  pthread_mutex_lock(&s->lock);
  for (struct conn *c = s->conns; c; c = c->next)
    if (c->fd >= 0)
      shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&s->lock);

  /* Only connection threads remain, and they never touch the list. */
  while (s->conns) {
    struct conn *c = s->conns;
    s->conns = c->next;
    pthread_join(c->thread, NULL);
    free(c);
  }
  pthread_mutex_destroy(&s->lock);
  close(s->wake[0]);
  close(s->wake[1]);
  h2k_debug("nbd: stopped serving %s", s->socket_path);
  free(s->socket_path);
  free(s->uri);
  free(s);
}
