# Static frontend behind nginx, running as the unprivileged nginx user (uid 101) on
# port 8080. nginx also proxies /api and /ws to the api service. Build context: repo root.
FROM nginxinc/nginx-unprivileged:1.28.0-alpine
COPY infra/nginx/default.conf /etc/nginx/conf.d/default.conf
COPY frontend/ /usr/share/nginx/html/
EXPOSE 8080
