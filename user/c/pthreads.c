/* pthreads: musl pthreads on the kernel's clone/futex: 4 producers and 4
 * consumers (8 threads) share a bounded queue guarded by a mutex and two
 * condition variables; totals and checksums must match after join. */
#include "tap.h"
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>

#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS 20000 /* per producer */
#define QCAP 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QCAP];
static int head, tail, count, producers_done;
static long consumed_count, consumed_sum;
static long tids[PRODUCERS + CONSUMERS];

static void *producer(void *arg)
{
	long id = (long)arg;
	tids[id] = syscall(SYS_gettid);
	for (long i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&lock);
		while (count == QCAP)
			pthread_cond_wait(&not_full, &lock);
		queue[tail] = id * 1000000 + i;
		tail = (tail + 1) % QCAP;
		count++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	producers_done++;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consumer(void *arg)
{
	long id = (long)arg, n = 0, sum = 0;
	tids[id] = syscall(SYS_gettid);
	for (;;) {
		pthread_mutex_lock(&lock);
		while (count == 0 && producers_done < PRODUCERS)
			pthread_cond_wait(&not_empty, &lock);
		if (count == 0) {
			pthread_mutex_unlock(&lock);
			break;
		}
		long v = queue[head];
		head = (head + 1) % QCAP;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
		n++;
		sum += v;
	}
	pthread_mutex_lock(&lock);
	consumed_count += n;
	consumed_sum += sum;
	pthread_mutex_unlock(&lock);
	return (void *)n;
}

int main(void)
{
	pthread_t th[PRODUCERS + CONSUMERS];
	int created = 0;

	tap_begin("pthreads");
	for (long i = 0; i < PRODUCERS + CONSUMERS; i++) {
		int r = pthread_create(&th[i], NULL, i < PRODUCERS ? producer : consumer, (void *)i);
		if (r == 0)
			created++;
		else
			th[i] = 0;
	}
	tap_eq(created, PRODUCERS + CONSUMERS, "pthread_create x8");
	int joined = 0;
	long per_consumer_total = 0;
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		void *ret;
		if (th[i] && pthread_join(th[i], &ret) == 0) {
			joined++;
			if (i >= PRODUCERS)
				per_consumer_total += (long)ret;
		}
	}
	tap_eq(joined, created, "pthread_join of every thread");

	long expect_sum = 0;
	for (long p = 0; p < PRODUCERS; p++)
		expect_sum += p * 1000000L * ITEMS + (long)ITEMS * (ITEMS + 1) / 2;
	tap_eq(consumed_count, (long)PRODUCERS * ITEMS, "every produced item consumed once");
	tap_eq(per_consumer_total, consumed_count, "join return values add up");
	tap_eq(consumed_sum, expect_sum, "checksum of consumed items");
	tap_eq(count, 0, "queue empty at the end");

	int distinct = 1;
	long me = syscall(SYS_gettid);
	for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
		if (tids[i] <= 0 || tids[i] == me)
			distinct = 0;
		for (int j = 0; j < i; j++)
			if (tids[i] == tids[j])
				distinct = 0;
	}
	tap_ok(distinct, "each thread had its own tid");
	return tap_end();
}
