/* The CPU thread pool: a parallel-for over [0, n) in chunks, shared by every session of a process.
 *
 * Each parallel_for call is a job on the caller's stack, linked into the pool's list while it has chunks
 * left. Workers take chunks of any listed job through the job's atomic counter; the caller works on its
 * own job too, then unlinks it and waits only for the workers still inside one of its chunks. Because a
 * caller never waits for work that nobody has started, concurrent callers and nested calls (a body that
 * calls parallel_for) cannot deadlock, even on a pool of one thread.
 *
 * Waking a sleeping thread takes tens of microseconds, as long as a small kernel runs: a worker that runs
 * out of jobs spins for SPIN_NS, watching the count of posted jobs, before it sleeps on the condition
 * variable, and a caller spins as long for its workers to leave its job, so back-to-back kernels find
 * their threads awake. A spinning thread uses its core, and only while it would otherwise have just
 * gone to sleep.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "runtime/runtime_internal.h"

#define MAX_THREADS 1024
#define SPIN_NS 200000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

typedef struct job {
  struct job *next;
  tcc_rt_body_fn_t body;
  void *arg;
  int64_t n, chunk, num_chunks;
  atomic_int_fast64_t next_chunk;
  atomic_int error;  /* the first nonzero body result */
  atomic_int active; /* workers inside this job (incremented under the pool's lock; a worker touches the
                      * job no more once it has decremented it) */
  bool listed;
} job_t;

struct tcc_rt_pool {
  tcc_allocator_t allocator;
  int num_threads;
  int num_workers; /* started */
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t work;  /* a job was listed, or shutdown */
  pthread_cond_t idle;  /* a worker left a job */
  job_t *jobs;
  bool shutdown;
  atomic_uint_fast64_t posted; /* jobs listed so far: what spinning workers watch */
  int sleepers;                /* workers waiting on `work` (under the lock) */
};

/* Spins until the pool has posted a job other than `seen`, for at most SPIN_NS; whether it did. */
static bool spin_for_work(tcc_rt_pool_t *p, uint_fast64_t seen) {
  int64_t deadline = now_ns() + SPIN_NS;
  for (int i = 0;; i++) {
    if (atomic_load_explicit(&p->posted, memory_order_acquire) != seen) return true;
    if ((i & 63) == 63 && now_ns() > deadline) return false;
    cpu_relax();
  }
}

/* Runs chunks of j until none are left or a body failed. */
static void run_chunks(job_t *j) {
  for (;;) {
    if (atomic_load_explicit(&j->error, memory_order_relaxed)) return;
    int64_t c = atomic_fetch_add(&j->next_chunk, 1);
    if (c >= j->num_chunks) return;
    int64_t begin = c * j->chunk;
    int64_t end = begin + j->chunk < j->n ? begin + j->chunk : j->n;
    int rc = j->body(j->arg, begin, end);
    if (rc) {
      int expected = 0;
      atomic_compare_exchange_strong(&j->error, &expected, rc);
    }
  }
}

static bool job_has_work(job_t *j) {
  return atomic_load(&j->next_chunk) < j->num_chunks && !atomic_load(&j->error);
}

/* Under the lock: unlinks j from the pool's list. */
static void unlink_job(tcc_rt_pool_t *p, job_t *j) {
  if (!j->listed) return;
  for (job_t **pp = &p->jobs; *pp; pp = &(*pp)->next) {
    if (*pp == j) {
      *pp = j->next;
      break;
    }
  }
  j->listed = false;
}

static void *worker_main(void *arg) {
  tcc_rt_pool_t *p = arg;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    job_t *j = NULL;
    while (!p->shutdown) {
      for (job_t *k = p->jobs, *next; k; k = next) {
        next = k->next;
        if (job_has_work(k)) {
          j = k;
          break;
        }
        unlink_job(p, k);
      }
      if (j) break;
      uint_fast64_t seen = atomic_load(&p->posted);
      pthread_mutex_unlock(&p->lock);
      bool posted = spin_for_work(p, seen);
      pthread_mutex_lock(&p->lock);
      if (posted || p->shutdown || atomic_load(&p->posted) != seen) continue;
      p->sleepers++;
      pthread_cond_wait(&p->work, &p->lock);
      p->sleepers--;
    }
    if (!j) break;
    atomic_fetch_add(&j->active, 1);
    pthread_mutex_unlock(&p->lock);
    run_chunks(j);
    pthread_mutex_lock(&p->lock);
    unlink_job(p, j);
    if (atomic_fetch_sub(&j->active, 1) == 1) pthread_cond_broadcast(&p->idle);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static tcc_status_t threads_from_env(int *out) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  *out = cores > 0 ? (cores < MAX_THREADS ? (int)cores : MAX_THREADS) : 1;
  const char *env = getenv("TCC_NUM_THREADS");
  if (!env || !*env) return NULL;
  char *end;
  errno = 0;
  long v = strtol(env, &end, 10);
  if (errno || *end || v < 1 || v > MAX_THREADS)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "TCC_NUM_THREADS='%s' is not a thread count from 1 to %d", env,
                           MAX_THREADS);
  *out = (int)v;
  return NULL;
}

static void stop_workers(tcc_rt_pool_t *p) {
  pthread_mutex_lock(&p->lock);
  p->shutdown = true;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->num_workers; i++) pthread_join(p->workers[i], NULL);
  p->num_workers = 0;
}

tcc_status_t tcc_rt_pool_create(int num_threads, const tcc_allocator_t *allocator, tcc_rt_pool_t **out) {
  *out = NULL;
  if (num_threads < 0 || num_threads > MAX_THREADS)
    return tcc_status_make(TCC_INVALID_ARGUMENT, "thread pool: %d threads requested (0 to %d)", num_threads,
                           MAX_THREADS);
  if (num_threads == 0) TCC_RETURN_IF_ERROR(threads_from_env(&num_threads));
  tcc_allocator_t a = allocator ? *allocator : tcc_allocator_system();
  tcc_rt_pool_t *p = tcc_alloc(a, sizeof *p);
  if (!p) return tcc_status_oom();
  memset(p, 0, sizeof *p);
  p->allocator = a;
  p->num_threads = num_threads;
  if (num_threads > 1) {
    p->workers = tcc_alloc(a, sizeof(pthread_t) * (size_t)(num_threads - 1));
    if (!p->workers) {
      tcc_free(a, p);
      return tcc_status_oom();
    }
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->idle, NULL);
  for (int i = 0; i < num_threads - 1; i++) {
    int rc = pthread_create(&p->workers[i], NULL, worker_main, p);
    if (rc) {
      stop_workers(p);
      tcc_rt_pool_destroy(p);
      return tcc_status_make(TCC_IO, "thread pool: cannot start worker %d of %d: %s", i + 1, num_threads - 1,
                             strerror(rc));
    }
    p->num_workers++;
  }
  *out = p;
  return NULL;
}

void tcc_rt_pool_destroy(tcc_rt_pool_t *p) {
  if (!p) return;
  stop_workers(p);
  pthread_cond_destroy(&p->idle);
  pthread_cond_destroy(&p->work);
  pthread_mutex_destroy(&p->lock);
  tcc_free(p->allocator, p->workers);
  tcc_free(p->allocator, p);
}

int tcc_rt_pool_num_threads(const tcc_rt_pool_t *p) { return p ? p->num_threads : 1; }

int tcc_rt_parallel_for(tcc_rt_pool_t *p, int64_t n, int64_t grain, tcc_rt_body_fn_t body, void *arg) {
  if (n <= 0) return 0;
  if (grain < 1) grain = 1;
  int threads = p ? p->num_threads : 1;
  if (threads <= 1 || n <= grain) return body(arg, 0, n);
  int64_t chunk = (n + 4 * (int64_t)threads - 1) / (4 * (int64_t)threads);
  if (chunk < grain) chunk = grain;
  job_t j;
  memset(&j, 0, sizeof j);
  j.body = body;
  j.arg = arg;
  j.n = n;
  j.chunk = chunk;
  j.num_chunks = (n - 1) / chunk + 1;
  atomic_init(&j.next_chunk, 0);
  atomic_init(&j.error, 0);
  atomic_init(&j.active, 0);
  if (j.num_chunks == 1) return body(arg, 0, n);

  pthread_mutex_lock(&p->lock);
  j.next = p->jobs;
  p->jobs = &j;
  j.listed = true;
  atomic_fetch_add_explicit(&p->posted, 1, memory_order_release);
  if (p->sleepers > 1 && j.num_chunks > 2)
    pthread_cond_broadcast(&p->work);
  else if (p->sleepers > 0)
    pthread_cond_signal(&p->work);
  pthread_mutex_unlock(&p->lock);

  run_chunks(&j);

  pthread_mutex_lock(&p->lock);
  unlink_job(p, &j); /* no worker enters j from now on */
  pthread_mutex_unlock(&p->lock);
  int64_t deadline = now_ns() + SPIN_NS;
  for (int i = 0; atomic_load_explicit(&j.active, memory_order_acquire) > 0; i++) {
    if ((i & 63) == 63 && now_ns() > deadline) {
      pthread_mutex_lock(&p->lock);
      while (atomic_load(&j.active) > 0) pthread_cond_wait(&p->idle, &p->lock);
      pthread_mutex_unlock(&p->lock);
      break;
    }
    cpu_relax();
  }
  return atomic_load(&j.error);
}

int tcc_rt_pool_parallel_for_ctx(void *pool, int64_t n, int64_t grain, tcc_module_body_fn_t body, void *arg) {
  return tcc_rt_parallel_for(pool, n, grain, body, arg);
}

/* ---- the process-wide default pool ---- */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static tcc_rt_pool_t *default_pool;

tcc_status_t tcc_rt_pool_default(tcc_rt_pool_t **out) {
  *out = NULL;
  pthread_mutex_lock(&default_lock);
  tcc_status_t st = NULL;
  if (!default_pool) st = tcc_rt_pool_create(0, NULL, &default_pool);
  *out = default_pool;
  pthread_mutex_unlock(&default_lock);
  return st;
}

__attribute__((destructor)) static void shutdown_default_pool(void) {
  pthread_mutex_lock(&default_lock);
  tcc_rt_pool_destroy(default_pool);
  default_pool = NULL;
  pthread_mutex_unlock(&default_lock);
}
