/*
 * dqlite-node: one dqlite node whose every SQLite connection has
 * sqlite-triggers registered (sqlite3_auto_extension on the extension's init
 * function), since dqlite refuses load_extension from its clients.
 *
 * Usage: dqlite-node --id N --address HOST:PORT --dir DATA_DIR
 *                    (--extension PATH | --no-extension)
 *                    [--join HOST:PORT] [--latency-ms MS]
 *
 * The node with id 1 and an empty data dir bootstraps a new cluster. Any
 * other node is given --join (the address of a node already in the cluster):
 * once running, it asks the cluster's leader to add it and then to make it a
 * voter, retrying for up to a minute. A restarted node (same id and data
 * dir, which holds raft's metadata) is a member already: --join is not
 * used. SIGTERM or SIGINT stops the node cleanly (exit 0). See README.md in
 * this folder.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dqlite.h>
#include <sqlite3.h>

static const char *prog = "dqlite-node";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* --- A minimal client of dqlite's wire protocol (version 1): LEADER, ADD,
 * ASSIGN. A message is an 8-byte header (body length in 8-byte words, type,
 * flags, 2 spare bytes) and a body of little-endian uint64s and
 * NUL-terminated strings padded to 8 bytes. */

enum { REQ_LEADER = 0, REQ_ADD = 12, REQ_ASSIGN = 13 };
enum { RES_FAILURE = 0, RES_NODE = 1, RES_EMPTY = 8 };

struct msg {
	uint8_t buf[4096];
	size_t len;
};

static void put_u64(struct msg *m, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		m->buf[m->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct msg *m, const char *s)
{
	size_t n = strlen(s) + 1;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	while (m->len % 8)
		m->buf[m->len++] = 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Connects to HOST:PORT and sends the protocol version; -1 on failure. */
static int dial(const char *address)
{
	char host[256];
	const char *colon = strrchr(address, ':');
	if (!colon || (size_t)(colon - address) >= sizeof host)
		return -1;
	memcpy(host, address, (size_t)(colon - address));
	host[colon - address] = 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint8_t version[8] = {1};
	if (write_all(fd, version, 8) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends a request whose body is in m, reads the response into m; returns the
 * response type or -1 on an I/O error. */
static int roundtrip(int fd, int type, struct msg *m)
{
	uint8_t header[8] = {0};
	uint32_t words = (uint32_t)(m->len / 8);
	for (int i = 0; i < 4; i++)
		header[i] = (uint8_t)(words >> (8 * i));
	header[4] = (uint8_t)type;
	if (write_all(fd, header, 8) || write_all(fd, m->buf, m->len))
		return -1;
	if (read_all(fd, header, 8))
		return -1;
	words = header[0] | header[1] << 8 | header[2] << 16 | (uint32_t)header[3] << 24;
	if ((size_t)words * 8 > sizeof m->buf)
		return -1;
	m->len = (size_t)words * 8;
	if (read_all(fd, m->buf, m->len))
		return -1;
	return header[4];
}

/* Failure body: code (uint64), message (string). */
static const char *failure_text(struct msg *m)
{
	if (m->len <= 8)
		return "";
	m->buf[sizeof m->buf - 1] = 0;
	return (const char *)m->buf + 8;
}

/* One attempt to join: 0 done, 1 retry later (message in why). */
static int join_once(const char *join, uint64_t id, const char *address, char *why, size_t whylen)
{
	struct msg m = {.len = 0};
	int fd = dial(join);
	if (fd < 0) {
		snprintf(why, whylen, "cannot connect to %s", join);
		return 1;
	}
	put_u64(&m, 0);
	int type = roundtrip(fd, REQ_LEADER, &m);
	close(fd);
	if (type != RES_NODE || m.len < 16 || m.buf[8] == 0) {
		snprintf(why, whylen, "%s knows no leader yet", join);
		return 1;
	}
	char leader[256];
	m.buf[8 + sizeof leader - 1] = 0;
	memcpy(leader, m.buf + 8, sizeof leader);

	fd = dial(leader);
	if (fd < 0) {
		snprintf(why, whylen, "cannot connect to the leader %s", leader);
		return 1;
	}
	m.len = 0;
	put_u64(&m, id);
	put_str(&m, address);
	type = roundtrip(fd, REQ_ADD, &m);
	/* A node added before (a restart, or an earlier attempt) is refused
	 * with raft's "server ID already in use": go on to make it a voter.
	 * Any other failure (say, another change in progress) is retried. */
	if (type == RES_FAILURE) {
		const char *text = failure_text(&m);
		if (!strstr(text, "already in use")) {
			close(fd);
			snprintf(why, whylen, "add: %s", text);
			return 1;
		}
	} else if (type != RES_EMPTY) {
		close(fd);
		snprintf(why, whylen, "add: no answer from the leader %s", leader);
		return 1;
	}
	m.len = 0;
	put_u64(&m, id);
	put_u64(&m, 0); /* voter */
	type = roundtrip(fd, REQ_ASSIGN, &m);
	close(fd);
	if (type == RES_EMPTY)
		return 0;
	if (type == RES_FAILURE) {
		const char *text = failure_text(&m);
		if (strstr(text, "server is already voter"))
			return 0;
		snprintf(why, whylen, "assign voter: %s", text);
		return 1;
	}
	snprintf(why, whylen, "assign voter: no answer from the leader %s", leader);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s --id N --address HOST:PORT --dir DATA_DIR (--extension PATH | --no-extension)\n"
		"       [--join HOST:PORT] [--latency-ms MS]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long id = 0;
	const char *address = NULL, *dir = NULL, *ext = NULL, *join = NULL;
	unsigned latency_ms = 0;
	int no_extension = 0;
	static struct option opts[] = {
	    {"id", required_argument, 0, 'i'},        {"address", required_argument, 0, 'a'},
	    {"dir", required_argument, 0, 'd'},       {"extension", required_argument, 0, 'e'},
	    {"join", required_argument, 0, 'j'},      {"latency-ms", required_argument, 0, 'l'},
	    {"no-extension", no_argument, 0, 'n'},   {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': id = strtoull(optarg, NULL, 10); break;
		case 'a': address = optarg; break;
		case 'd': dir = optarg; break;
		case 'e': ext = optarg; break;
		case 'j': join = optarg; break;
		case 'n': no_extension = 1; break;
		case 'l': latency_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc || id == 0 || !address || !dir || !ext == !no_extension)
		usage();
	/* A node that has run before (raft's metadata in its data dir) knows its
	 * cluster; a new one other than the bootstrap node must be added. */
	char meta[4096];
	snprintf(meta, sizeof meta, "%s/metadata1", dir);
	int has_run = access(meta, F_OK) == 0;
	snprintf(meta, sizeof meta, "%s/metadata2", dir);
	has_run = has_run || access(meta, F_OK) == 0;
	if (id != 1 && !join && !has_run)
		die("%s", "a new node other than --id 1 needs --join HOST:PORT of a node in the cluster");

	/* A write to a peer that died raises SIGPIPE; its default action would
	 * kill this node when the leader dies. */
	signal(SIGPIPE, SIG_IGN);
	/* SIGTERM and SIGINT are taken by sigwait below, in this thread only. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	/* The extension, for every connection dqlite opens. A path without
	 * .so gets it added, as SQLite's load_extension does. --no-extension
	 * runs a node without it (to see what such a node does in a cluster). */
	if (no_extension)
		goto start;
	void *handle = dlopen(ext, RTLD_NOW);
	if (!handle) {
		char with_so[4096];
		snprintf(with_so, sizeof with_so, "%s.so", ext);
		handle = dlopen(with_so, RTLD_NOW);
	}
	if (!handle)
		die("cannot load the extension: %s", dlerror());
	void *init = dlsym(handle, "sqlite3_sqlitetriggers_init");
	if (!init)
		die("%s has no sqlite3_sqlitetriggers_init", ext);
	int rc = sqlite3_auto_extension((void (*)(void))init);
	if (rc != SQLITE_OK)
		die("sqlite3_auto_extension: %s", sqlite3_errstr(rc));

start:;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		die("cannot create the data dir: %s", strerror(errno));
	dqlite_node *node = NULL;
	if (dqlite_node_create(id, address, dir, &node) != 0)
		die("dqlite_node_create: %s", node ? dqlite_node_errmsg(node) : "out of memory");
	if (dqlite_node_set_bind_address(node, address) != 0)
		die("cannot bind: %s", dqlite_node_errmsg(node));
	if (latency_ms && dqlite_node_set_network_latency_ms(node, latency_ms) != 0)
		die("--latency-ms: %s", dqlite_node_errmsg(node));
	if (dqlite_node_start(node) != 0)
		die("dqlite_node_start: %s", dqlite_node_errmsg(node));
	fprintf(stderr, "%s: node %llu serving %s (data %s, %s)\n", prog, id, address, dir,
		no_extension ? "without sqlite-triggers" : "sqlite-triggers on every connection");

	if (join && has_run)
		fprintf(stderr, "%s: node %llu has run before: it is a member already, --join is not used\n",
			prog, id);
	if (join && !has_run) {
		char why[512] = "";
		time_t until = time(NULL) + 60;
		for (;;) {
			if (join_once(join, id, address, why, sizeof why) == 0)
				break;
			if (time(NULL) >= until) {
				fprintf(stderr, "%s: could not join through %s: %s\n", prog, join, why);
				dqlite_node_stop(node);
				dqlite_node_destroy(node);
				return 1;
			}
			struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
		fprintf(stderr, "%s: node %llu is a voter (joined through %s)\n", prog, id, join);
	}

	int sig;
	sigwait(&stop, &sig);
	fprintf(stderr, "%s: node %llu stopping (%s)\n", prog, id, strsignal(sig));
	dqlite_node_stop(node);
	dqlite_node_destroy(node);
	return 0;
}
