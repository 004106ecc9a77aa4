/* stamp FILE SECONDS ID: sleep SECONDS and append "ID start end" (Unix
 * seconds) to FILE in one write. The ID makes every task's command distinct,
 * as real tasks are (pilot would reuse the sealed result of an identical one). The pack workloads run it as their task on every system,
 * so makespan is read the same way everywhere: last end minus first start. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: stamp FILE SECONDS ID\n");
		return 2;
	}
	double start = now();
	double d = atof(argv[2]);
	struct timespec req = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
	while (nanosleep(&req, &req) != 0) {
	}
	double end = now();
	char line[256];
	int n = snprintf(line, sizeof line, "%.64s %.6f %.6f\n", argv[3], start, end);
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || write(fd, line, n) != n) {
		perror(argv[1]);
		return 1;
	}
	return close(fd) == 0 ? 0 : 1;
}
