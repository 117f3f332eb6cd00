/* api.h: the handlers behind the route table. */
#ifndef API_H
#define API_H

#include <stdint.h>
#include <jansson.h>

struct jobd;
struct req;

/* One call of a handler: what pre-dispatch already checked and parsed. */
struct api_call {
	struct jobd *jd;
	struct req  *r;
	int64_t      id;      /* the {id} of the path, if the route has one */
	json_t      *body;    /* the JSON object body, for routes that take one */
};

typedef void (*api_fn)(struct api_call *c);

/* httpd's dispatch hook: checks common to every route, then the handler. */
void api_dispatch(void *arg, struct req *r);
/* httpd's body hook: does the route for method and path take a JSON body? */
int  api_wants_body(void *arg, const char *method, const char *path);
/* httpd's early hook: the checks of api_dispatch that need no body. */
void api_guard(void *arg, struct req *r);

void api_task_create(struct api_call *c);
void api_task_list(struct api_call *c);
void api_task_get(struct api_call *c);
void api_task_delete(struct api_call *c);
void api_task_cancel(struct api_call *c);
void api_task_result(struct api_call *c);
void api_task_stdout(struct api_call *c);
void api_task_stderr(struct api_call *c);
void api_wait(struct api_call *c);
void api_gather(struct api_call *c);
void api_healthz(struct api_call *c);
void api_metrics(struct api_call *c);

/* Shared by the handlers: 400 from a spec error, etc. */
struct err;
void api_reply_err(struct req *r, const struct err *e);
void api_reply_invalid(struct req *r, const struct err *e);

#endif
