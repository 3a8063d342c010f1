/* lib/nbd against a raw socket: the protocol paths qemu never takes
 * (NBD_OPT_EXPORT_NAME, LIST, ABORT, refused options and commands) and
 * hostile clients (bad magic, giant lengths, reads past the end, clients
 * vanishing mid-request). After each, the server must have answered or
 * closed that one connection and still serve new ones; h2k_nbd_stop must
 * return promptly with clients connected.
 *
 * Every client socket has a receive timeout, so a server that hangs fails
 * the test instead of hanging it. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image.h"
#include "nbd/nbd_server.h"

#define IMAGE_SIZE (UINT64_C(4) << 20)
#define MAX_REQUEST (UINT32_C(32) << 20)

#define NBD_MAGIC UINT64_C(0x4e42444d41474943)
#define NBD_IHAVEOPT UINT64_C(0x49484156454f5054)
#define NBD_REP_MAGIC UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC UINT32_C(0x67446698)

#define FLAG_FIXED 1u
#define FLAG_NO_ZEROES 2u
#define TFLAG_HAS_FLAGS (1u << 0)
#define TFLAG_READ_ONLY (1u << 1)

enum {
  OPT_EXPORT_NAME = 1,
  OPT_ABORT = 2,
  OPT_LIST = 3,
  OPT_STARTTLS = 5,
  OPT_INFO = 6,
  OPT_GO = 7,
  OPT_STRUCTURED_REPLY = 8,
  OPT_SET_META_CONTEXT = 10,
  OPT_EXTENDED_HEADERS = 11,
};
#define REP_ACK 1u
#define REP_SERVER 2u
#define REP_INFO 3u
#define REP_ERR_UNSUP (1u << 31 | 1)
#define REP_ERR_INVALID (1u << 31 | 3)
#define INFO_EXPORT 0
#define INFO_BLOCK_SIZE 3

enum {
  CMD_READ = 0,
  CMD_WRITE = 1,
  CMD_DISC = 2,
  CMD_FLUSH = 3,
  CMD_TRIM = 4,
  CMD_CACHE = 5,
  CMD_WRITE_ZEROES = 6,
  CMD_BLOCK_STATUS = 7,
};
#define E_PERM 1u
#define E_INVAL 22u

struct fixture {
  char dir[256];
  char image_path[300];
  char socket_path[300];
  uint8_t *pattern; /* the image's bytes */
  h2k_image *img;
  h2k_nbd_server *srv;
};

static struct fixture fx;

/* ---- Wire helpers ---- */

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- Client socket ---- */

static int connect_to(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    fail_msg("connect %s: %s", path, strerror(errno));
  return fd;
}

static void send_bytes(int fd, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      fail_msg("send: %s", strerror(errno));
    p += n;
    len -= (size_t)n;
  }
}

/* False on EOF or reset; a timeout fails the test (the server hung). */
static bool recv_bytes(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      fail_msg("server did not answer within the timeout");
    if (n <= 0)
      return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

/* The server must close the connection (EOF or reset), not hang. */
static void expect_closed(int fd) {
  uint8_t byte;
  assert_false(recv_bytes(fd, &byte, 1));
  close(fd);
}

/* ---- Handshake ---- */

static void read_greeting(int fd) {
  uint8_t g[18];
  assert_true(recv_bytes(fd, g, sizeof g));
  assert_true(get64(g) == NBD_MAGIC);
  assert_true(get64(g + 8) == NBD_IHAVEOPT);
  assert_int_equal(get16(g + 16), FLAG_FIXED | FLAG_NO_ZEROES);
}

static int connect_negotiating(uint32_t client_flags) {
  int fd = connect_to(fx.socket_path);
  read_greeting(fd);
  uint8_t f[4];
  put32(f, client_flags);
  send_bytes(fd, f, sizeof f);
  return fd;
}

static void send_option(int fd, uint32_t option, const void *data,
                        uint32_t len) {
  uint8_t h[16];
  put64(h, NBD_IHAVEOPT);
  put32(h + 8, option);
  put32(h + 12, len);
  send_bytes(fd, h, sizeof h);
  if (len)
    send_bytes(fd, data, len);
}

/* Read one option reply of the expected type; returns its data length. */
static uint32_t expect_option_reply(int fd, uint32_t option, uint32_t type,
                                    uint8_t *data, uint32_t cap) {
  uint8_t h[20];
  assert_true(recv_bytes(fd, h, sizeof h));
  assert_true(get64(h) == NBD_REP_MAGIC);
  assert_int_equal(get32(h + 8), option);
  assert_int_equal(get32(h + 12), type);
  uint32_t len = get32(h + 16);
  assert_true(len <= cap);
  if (len)
    assert_true(recv_bytes(fd, data, len));
  return len;
}

/* GO/INFO data for the default export, asking for the block size. */
static uint32_t info_request(uint8_t *d) {
  put32(d, 0);
  put16(d + 4, 1);
  put16(d + 6, INFO_BLOCK_SIZE);
  return 8;
}

static void expect_export_info(int fd, uint32_t option) {
  uint8_t d[64];
  assert_int_equal(expect_option_reply(fd, option, REP_INFO, d, sizeof d), 12);
  assert_int_equal(get16(d), INFO_EXPORT);
  assert_true(get64(d + 2) == IMAGE_SIZE);
  uint16_t flags = get16(d + 10);
  assert_true(flags & TFLAG_HAS_FLAGS);
  assert_true(flags & TFLAG_READ_ONLY);
  assert_int_equal(expect_option_reply(fd, option, REP_INFO, d, sizeof d), 14);
  assert_int_equal(get16(d), INFO_BLOCK_SIZE);
  assert_int_equal(get32(d + 2), 1);
  assert_int_equal(get32(d + 10), MAX_REQUEST);
  expect_option_reply(fd, option, REP_ACK, d, sizeof d);
}

static void go(int fd) {
  uint8_t d[8];
  send_option(fd, OPT_GO, d, info_request(d));
  expect_export_info(fd, OPT_GO);
}

static int connect_transmitting(void) {
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  go(fd);
  return fd;
}

/* ---- Transmission ---- */

static void send_request(int fd, uint16_t type, uint64_t cookie, uint64_t off,
                         uint32_t len) {
  uint8_t r[28];
  put32(r, NBD_REQUEST_MAGIC);
  put16(r + 4, 0);
  put16(r + 6, type);
  put64(r + 8, cookie);
  put64(r + 16, off);
  put32(r + 24, len);
  send_bytes(fd, r, sizeof r);
}

static uint32_t recv_reply(int fd, uint64_t cookie) {
  uint8_t r[16];
  assert_true(recv_bytes(fd, r, sizeof r));
  assert_int_equal(get32(r), NBD_SIMPLE_REPLY_MAGIC);
  assert_true(get64(r + 8) == cookie);
  return get32(r + 4);
}

static void expect_read(int fd, uint64_t off, uint32_t len) {
  static uint64_t cookie = 1000;
  uint8_t *buf = malloc(len);
  assert_non_null(buf);
  send_request(fd, CMD_READ, ++cookie, off, len);
  assert_int_equal(recv_reply(fd, cookie), 0);
  assert_true(recv_bytes(fd, buf, len));
  assert_memory_equal(buf, fx.pattern + off, len);
  free(buf);
}

static void expect_error_reply(int fd, uint16_t type, uint64_t off,
                               uint32_t len, uint32_t error) {
  send_request(fd, type, 77, off, len);
  assert_int_equal(recv_reply(fd, 77), error);
}

/* A fresh client can still negotiate and read: the server survived. */
static void assert_server_alive(void) {
  int fd = connect_transmitting();
  expect_read(fd, 12345, 4096);
  send_request(fd, CMD_DISC, 1, 0, 0);
  expect_closed(fd);
}

/* ---- Fixture ---- */

static int write_pattern_image(void) {
  fx.pattern = malloc(IMAGE_SIZE);
  if (!fx.pattern)
    return -1;
  for (uint64_t i = 0; i < IMAGE_SIZE; i++)
    fx.pattern[i] = (uint8_t)(i * 131 + (i >> 12) * 7 + 3);
  FILE *f = fopen(fx.image_path, "wb");
  if (!f)
    return -1;
  size_t n = fwrite(fx.pattern, 1, IMAGE_SIZE, f);
  return fclose(f) == 0 && n == IMAGE_SIZE ? 0 : -1;
}

static int setup(void **state) {
  (void)state;
  const char *tmp = getenv("TMPDIR");
  snprintf(fx.dir, sizeof fx.dir, "%s/h2k-nbd-hostile.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(fx.dir))
    return -1;
  snprintf(fx.image_path, sizeof fx.image_path, "%s/disk.raw", fx.dir);
  snprintf(fx.socket_path, sizeof fx.socket_path, "%s/nbd.sock", fx.dir);
  if (write_pattern_image() != 0)
    return -1;
  h2k_error err = {0};
  fx.img = h2k_image_open(fx.image_path, "raw", &err);
  if (!fx.img)
    return -1;
  fx.srv = h2k_nbd_serve(fx.img, fx.socket_path, &err);
  if (!fx.srv)
    fprintf(stderr, "serve: %s\n", h2k_error_text(&err));
  return fx.srv ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  h2k_nbd_stop(fx.srv);
  h2k_image_close(fx.img);
  unlink(fx.image_path);
  rmdir(fx.dir);
  free(fx.pattern);
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Tests: the protocol as a well-behaved client sees it ---- */

static void test_go_read_flush_disc(void **state) {
  (void)state;
  int fd = connect_transmitting();
  expect_read(fd, 0, 512);
  expect_read(fd, 12345, 100000);
  expect_read(fd, IMAGE_SIZE - 1, 1);
  expect_read(fd, 0, (uint32_t)IMAGE_SIZE);
  expect_error_reply(fd, CMD_FLUSH, 0, 0, 0);
  send_request(fd, CMD_DISC, 1, 0, 0);
  expect_closed(fd);
}

static void test_export_name(void **state) {
  (void)state;
  /* With NO_ZEROES: size and flags only. */
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  send_option(fd, OPT_EXPORT_NAME, "", 0);
  uint8_t r[134];
  assert_true(recv_bytes(fd, r, 10));
  assert_true(get64(r) == IMAGE_SIZE);
  assert_true(get16(r + 8) & TFLAG_READ_ONLY);
  expect_read(fd, 4096, 4096);
  close(fd);

  /* Without it: 124 zero bytes follow; any export name is the one export. */
  fd = connect_negotiating(FLAG_FIXED);
  send_option(fd, OPT_EXPORT_NAME, "disk", 4);
  assert_true(recv_bytes(fd, r, sizeof r));
  assert_true(get64(r) == IMAGE_SIZE);
  for (size_t i = 10; i < sizeof r; i++)
    assert_int_equal(r[i], 0);
  expect_read(fd, 77, 1000);
  close(fd);
}

static void test_list_info_abort(void **state) {
  (void)state;
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  uint8_t d[64];
  send_option(fd, OPT_LIST, NULL, 0);
  assert_int_equal(expect_option_reply(fd, OPT_LIST, REP_SERVER, d, sizeof d),
                   4);
  assert_int_equal(get32(d), 0);
  expect_option_reply(fd, OPT_LIST, REP_ACK, d, sizeof d);

  send_option(fd, OPT_LIST, "x", 1);
  expect_option_reply(fd, OPT_LIST, REP_ERR_INVALID, d, sizeof d);

  uint32_t len = info_request(d);
  send_option(fd, OPT_INFO, d, len);
  expect_export_info(fd, OPT_INFO);

  send_option(fd, OPT_ABORT, NULL, 0);
  expect_option_reply(fd, OPT_ABORT, REP_ACK, d, sizeof d);
  expect_closed(fd);
}

static void test_unsupported_options(void **state) {
  (void)state;
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  uint8_t d[64] = {0};
  const uint32_t refused[] = {OPT_STRUCTURED_REPLY, OPT_STARTTLS,
                              OPT_EXTENDED_HEADERS, 4, 0xdeadbeef};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    send_option(fd, refused[i], NULL, 0);
    expect_option_reply(fd, refused[i], REP_ERR_UNSUP, d, sizeof d);
  }
  /* With data, which must be consumed to stay in step. */
  memcpy(d,
         "\0\0\0\0\0\0\0\x01\0\0\0\x0f"
         "base:allocation",
         27);
  send_option(fd, OPT_SET_META_CONTEXT, d, 27);
  expect_option_reply(fd, OPT_SET_META_CONTEXT, REP_ERR_UNSUP, d, sizeof d);
  go(fd);
  expect_read(fd, 999, 3);
  close(fd);
}

static void test_malformed_go(void **state) {
  (void)state;
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  uint8_t d[64];
  send_option(fd, OPT_GO, "\0\0", 2); /* too short */
  expect_option_reply(fd, OPT_GO, REP_ERR_INVALID, d, sizeof d);
  put32(d, 0xffffffff); /* name longer than the data */
  put16(d + 4, 0);
  send_option(fd, OPT_GO, d, 6);
  expect_option_reply(fd, OPT_GO, REP_ERR_INVALID, d, sizeof d);
  put32(d, 0); /* more info requests than sent */
  put16(d + 4, 40);
  send_option(fd, OPT_INFO, d, 8);
  expect_option_reply(fd, OPT_INFO, REP_ERR_INVALID, d, sizeof d);
  go(fd);
  expect_read(fd, 0, 10);
  close(fd);
}

/* ---- Tests: hostile handshakes ---- */

static void test_bad_greeting_reply(void **state) {
  (void)state;
  int fd = connect_negotiating(0x80); /* unknown client flag */
  expect_closed(fd);

  fd = connect_negotiating(FLAG_FIXED);
  uint8_t h[16] = "NOTMAGIC";
  send_bytes(fd, h, sizeof h);
  expect_closed(fd);
  assert_server_alive();
}

static void test_giant_option_length(void **state) {
  (void)state;
  int fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  uint8_t h[16];
  put64(h, NBD_IHAVEOPT);
  put32(h + 8, OPT_GO);
  put32(h + 12, 0xffffffff);
  send_bytes(fd, h, sizeof h); /* and never the data */
  expect_closed(fd);

  fd = connect_negotiating(FLAG_FIXED | FLAG_NO_ZEROES);
  put32(h + 8, 0x1234);
  put32(h + 12, (64u << 10) + 1);
  send_bytes(fd, h, sizeof h);
  expect_closed(fd);
  assert_server_alive();
}

/* ---- Tests: hostile requests ---- */

static void test_read_out_of_range(void **state) {
  (void)state;
  int fd = connect_transmitting();
  expect_error_reply(fd, CMD_READ, IMAGE_SIZE - 10, 20, E_INVAL);
  expect_error_reply(fd, CMD_READ, IMAGE_SIZE, 1, E_INVAL);
  expect_error_reply(fd, CMD_READ, UINT64_MAX - 1, 4, E_INVAL);
  expect_error_reply(fd, CMD_READ, 0, 0, E_INVAL);
  expect_error_reply(fd, CMD_READ, 0, MAX_REQUEST + 1, E_INVAL);
  expect_error_reply(fd, CMD_READ, 0, UINT32_MAX, E_INVAL);
  expect_read(fd, IMAGE_SIZE - 4096, 4096); /* still in step */
  close(fd);
}

static void test_refused_commands(void **state) {
  (void)state;
  int fd = connect_transmitting();
  expect_error_reply(fd, 0x55, 0, 512, E_INVAL);
  expect_error_reply(fd, CMD_CACHE, 0, 512, E_INVAL);
  expect_error_reply(fd, CMD_BLOCK_STATUS, 0, 512, E_INVAL);
  expect_error_reply(fd, CMD_TRIM, 0, 4096, E_PERM);
  expect_error_reply(fd, CMD_WRITE_ZEROES, 0, 4096, E_PERM);

  /* A write's payload is consumed, so the next request is understood. */
  uint8_t payload[5000];
  memset(payload, 0xee, sizeof payload);
  send_request(fd, CMD_WRITE, 5, 0, sizeof payload);
  send_bytes(fd, payload, sizeof payload);
  assert_int_equal(recv_reply(fd, 5), E_PERM);
  expect_read(fd, 0, 8192); /* unchanged */
  close(fd);
}

static void test_hostile_requests_close(void **state) {
  (void)state;
  int fd = connect_transmitting();
  send_request(fd, CMD_WRITE, 1, 0, 0x7fffffff); /* payload too big to skip */
  expect_closed(fd);

  fd = connect_transmitting();
  uint8_t junk[28];
  memset(junk, 0x5a, sizeof junk);
  send_bytes(fd, junk, sizeof junk); /* bad request magic */
  expect_closed(fd);
  assert_server_alive();
}

static void test_client_vanishes(void **state) {
  (void)state;
  /* After the greeting, before sending its flags. */
  int fd = connect_to(fx.socket_path);
  read_greeting(fd);
  close(fd);

  /* Half an option. */
  fd = connect_negotiating(FLAG_FIXED);
  send_bytes(fd, "IHAV", 4);
  close(fd);

  /* Half a request. */
  fd = connect_transmitting();
  uint8_t r[28] = {0x25, 0x60, 0x95, 0x13, 0, 0, 0, 0};
  send_bytes(fd, r, 10);
  close(fd);

  /* Half a write payload. */
  fd = connect_transmitting();
  send_request(fd, CMD_WRITE, 3, 0, 1 << 20);
  send_bytes(fd, r, sizeof r);
  close(fd);

  /* Reads whose replies it never takes: the server's send fails (EPIPE,
   * never SIGPIPE: this process would die). */
  fd = connect_transmitting();
  for (int i = 0; i < 8; i++)
    send_request(fd, CMD_READ, (uint64_t)i, 0, (uint32_t)IMAGE_SIZE);
  close(fd);

  assert_server_alive();
  assert_server_alive();
}

static void test_parallel_clients(void **state) {
  (void)state;
  int fds[8];
  for (int i = 0; i < 8; i++)
    fds[i] = connect_transmitting();
  for (int round = 0; round < 4; round++)
    for (int i = 0; i < 8; i++)
      expect_read(fds[i], (uint64_t)(i * 65536 + round * 4099), 65536);
  for (int i = 0; i < 8; i++)
    close(fds[i]);
}

/* ---- Tests: lifecycle ---- */

static void test_stop_with_clients_connected(void **state) {
  (void)state;
  h2k_error err = {0};
  char path[sizeof fx.socket_path];
  snprintf(path, sizeof path, "%s/stop.sock", fx.dir);
  h2k_nbd_server *srv = h2k_nbd_serve(fx.img, path, &err);
  assert_non_null(srv);

  int silent = connect_to(path); /* never reads the greeting */
  int negotiating = connect_to(path);
  read_greeting(negotiating);
  int idle = connect_to(path);
  read_greeting(idle);
  uint8_t f[4], d[8];
  put32(f, FLAG_FIXED | FLAG_NO_ZEROES);
  send_bytes(idle, f, sizeof f);
  send_option(idle, OPT_GO, d, info_request(d));
  /* Blocked in send: asks for 32 MiB of data it does not read. */
  int stuck = connect_to(path);
  read_greeting(stuck);
  send_bytes(stuck, f, sizeof f);
  send_option(stuck, OPT_GO, d, info_request(d));
  for (int i = 0; i < 8; i++)
    send_request(stuck, CMD_READ, (uint64_t)i, 0, (uint32_t)IMAGE_SIZE);
  usleep(200 * 1000); /* let the server reach its blocking calls */

  double t0 = now();
  h2k_nbd_stop(srv);
  double took = now() - t0;
  if (took > 2.0)
    fail_msg("h2k_nbd_stop took %.2f s with clients connected", took);
  struct stat st;
  assert_int_equal(stat(path, &st), -1); /* socket unlinked */

  uint8_t drain[65536];
  while (recv(stuck, drain, sizeof drain, 0) > 0)
    ; /* what was sent before the stop, then EOF */
  close(stuck);
  close(silent);
  close(negotiating);
  close(idle);
  h2k_nbd_stop(NULL); /* safe on NULL */
}

static void test_connection_limit(void **state) {
  (void)state;
  enum { LIMIT = 64 };
  usleep(100 * 1000); /* let earlier tests' connections finish */
  /* Open connections until one is refused without a greeting. Threads of
   * earlier tests may still hold a slot or two, hence "at most". */
  int fds[LIMIT + 1];
  int greeted = 0;
  bool refused = false;
  while (!refused && greeted <= LIMIT) {
    int fd = connect_to(fx.socket_path);
    uint8_t g[18];
    if (recv_bytes(fd, g, sizeof g)) {
      fds[greeted++] = fd;
    } else {
      refused = true;
      close(fd);
    }
  }
  assert_true(refused);
  assert_in_range(greeted, LIMIT - 4, LIMIT);
  for (int i = 0; i < greeted; i++)
    close(fds[i]);
  /* Slots free up as the threads notice; allow them a moment. */
  for (int attempt = 0;; attempt++) {
    int fd = connect_to(fx.socket_path);
    uint8_t g[18];
    bool ok = recv_bytes(fd, g, sizeof g);
    close(fd);
    if (ok)
      break;
    assert_true(attempt < 100);
    usleep(20 * 1000);
  }
  assert_server_alive();
}

static void test_serve_errors(void **state) {
  (void)state;
  h2k_error err = {0};
  /* The path exists (our own live socket). */
  assert_null(h2k_nbd_serve(fx.img, fx.socket_path, &err));
  assert_int_equal(err.code, H2K_E_ENV);
  assert_non_null(strstr(err.message, "already exists"));

  char long_path[200];
  memset(long_path, 'x', sizeof long_path - 1);
  long_path[0] = '/';
  long_path[sizeof long_path - 1] = '\0';
  h2k_err_clear(&err);
  assert_null(h2k_nbd_serve(fx.img, long_path, &err));
  assert_int_equal(err.code, H2K_E_ENV);
  assert_non_null(strstr(err.message, "Unix socket allows"));

  /* A relative path gives an absolute URI. */
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(fx.dir), 0);
  h2k_nbd_server *srv = h2k_nbd_serve(fx.img, "rel.sock", &err);
  assert_int_equal(chdir(cwd), 0);
  assert_non_null(srv);
  char want[600];
  snprintf(want, sizeof want, "nbd+unix:///?socket=%s/rel.sock", fx.dir);
  assert_string_equal(h2k_nbd_uri(srv), want);
  h2k_nbd_stop(srv); /* from another cwd: must still unlink the right file */
  char rel[sizeof fx.dir + 16];
  snprintf(rel, sizeof rel, "%s/rel.sock", fx.dir);
  struct stat st;
  assert_int_equal(stat(rel, &st), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_go_read_flush_disc),
      cmocka_unit_test(test_export_name),
      cmocka_unit_test(test_list_info_abort),
      cmocka_unit_test(test_unsupported_options),
      cmocka_unit_test(test_malformed_go),
      cmocka_unit_test(test_bad_greeting_reply),
      cmocka_unit_test(test_giant_option_length),
      cmocka_unit_test(test_read_out_of_range),
      cmocka_unit_test(test_refused_commands),
      cmocka_unit_test(test_hostile_requests_close),
      cmocka_unit_test(test_client_vanishes),
      cmocka_unit_test(test_parallel_clients),
      cmocka_unit_test(test_stop_with_clients_connected),
      cmocka_unit_test(test_connection_limit),
      cmocka_unit_test(test_serve_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
