/* Starts Dash's renderer. Dash writes this one line inline; onemap serves it as a file so the
   Content-Security-Policy can forbid every inline script (dashboards/app.py: OneMapDash). */
var renderer = new DashRenderer();
