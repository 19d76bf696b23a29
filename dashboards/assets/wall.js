/* The wall screen's area style: the map's choropleth, dark outlines, the toured child lit. */
window.onemapWall = {
    areaStyle: function (feature, context) {
        const style = window.onemap.areaStyle(feature, context);
        const selected = ((context && context.hideout) || {}).selected;
        const lit = feature.properties.code === selected;
        style.color = lit ? "#ffffff" : "#0d1b2a";
        style.weight = lit ? 6 : 1;
        style.fillOpacity = lit ? 0.8 : 0.55;
        return style;
    }
};

/* Clientside callback: the screen's height, for the type of the trend strip (Plotly sizes its
   text in pixels, not in vh). Told again after a resize that changes it, once it settles. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.onemapWall = {
    screenHeight: function () {
        if (!window.onemapWall._watchingHeight) {
            window.onemapWall._watchingHeight = true;
            let told = window.innerHeight, timer = null;
            window.addEventListener("resize", function () {
                clearTimeout(timer);
                timer = setTimeout(function () {
                    if (window.innerHeight !== told) {
                        told = window.innerHeight;
                        window.dash_clientside.set_props("wall-screen", {data: told});
                    }
                }, 400);
            });
        }
        return window.innerHeight;
    }
};
