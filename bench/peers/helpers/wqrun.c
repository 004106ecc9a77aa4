/* wqrun TASKS CORES LIMIT_S: a Work Queue manager for the peers benchmark.
 * It listens on a free port, starts one work_queue_worker with CORES cores
 * that connects over 127.0.0.1, submits every task of TASKS at once (a line is
 * "CORES COMMAND...", run by the worker's shell), waits until all are back or
 * LIMIT_S seconds have passed, and prints one line:
 *   done N failed N submitted N inner_s S
 * where inner_s runs from the first submit to the last task returned. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctools/work_queue.h>

static double now(void) {
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: wqrun TASKS CORES LIMIT_S\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	double limit = atof(argv[3]);
	struct work_queue *q = work_queue_create(-1);
	if (!q) {
		fprintf(stderr, "wqrun: work_queue_create: no free port\n");
		return 1;
	}
	char port[16];
	snprintf(port, sizeof port, "%d", work_queue_port(q));
	pid_t worker = fork();
	if (worker == 0) {
		execlp("work_queue_worker", "work_queue_worker", "--cores", argv[2],
		       "--memory", "4000", "--disk", "4000", "--timeout", "30",
		       "127.0.0.1", port, (char *)NULL);
		perror("work_queue_worker");
		_exit(127);
	}
	double start = now();
	int submitted = 0;
	char line[8192];
	while (fgets(line, sizeof line, in)) {
		line[strcspn(line, "\n")] = 0;
		char *cmd = strchr(line, ' ');
		if (!cmd)
			continue;
		*cmd++ = 0;
		struct work_queue_task *t = work_queue_task_create(cmd);
		work_queue_task_specify_cores(t, atoi(line));
		work_queue_task_specify_memory(t, 1);
		work_queue_task_specify_disk(t, 1);
		work_queue_submit(q, t);
		submitted++;
	}
	fclose(in);
	int done = 0, failed = 0;
	double last = start;
	while (!work_queue_empty(q) && now() - start < limit) {
		struct work_queue_task *t = work_queue_wait(q, 1);
		if (!t)
			continue;
		if (t->result == WORK_QUEUE_RESULT_SUCCESS && t->return_status == 0)
			done++;
		else
			failed++;
		last = now();
		work_queue_task_delete(t);
	}
	printf("done %d failed %d submitted %d inner_s %.6f\n", done, failed, submitted, last - start);
	fflush(stdout);
	kill(worker, SIGTERM);
	waitpid(worker, NULL, 0);
	_exit(0); /* work_queue_delete would wait on tasks cut off by the limit */
}
